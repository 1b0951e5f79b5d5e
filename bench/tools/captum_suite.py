"""Captum's own unit tests for IntegratedGradients, NoiseTunnel and GradientShap, run with our
drop-ins swapped in for Captum's classes (and, with --captum, with Captum's own as the control).

    python bench/tools/captum_suite.py PATH/TO/captum-checkout [--captum] [pytest options]

Captum's test files are copied from the checkout into a scratch folder outside our tree and run
there with pytest; nothing of them enters this repository. The swap happens in a plugin that
imports all of captum.attr first, so that Captum's other classes (LayerIntegratedGradients, …)
keep Captum's classes inside, and then points the names Captum's tests import — the classes in
captum.attr._core.* and captum.attr — at ours. From test_targets.py and test_hook_removal.py only
the cases that build one of the three classes run (a NoiseTunnel over any method included).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

WHOLE_FILES = (
    "test_integrated_gradients_basic.py",
    "test_integrated_gradients_classification.py",
    "test_gradient_shap.py",
    "test_saliency.py",  # Saliency alone and under our NoiseTunnel
    "test_input_x_gradient.py",  # likewise
)
SELECTED_FILES = ("test_targets.py", "test_hook_removal.py", "test_feature_ablation.py")
# a generated case's name ends with its algorithm (a NoiseTunnel over any method ends "…NoiseTunnel"),
# a hand-written NoiseTunnel case with "_nt"; the two hand-written target cases build our
# IntegratedGradients
SELECTED = re.compile(
    r"(?<!Layer)(?<!Neuron)(IntegratedGradients|GradientShap|NoiseTunnel)$|_nt$|"
    r"^test_simple_target_missing_error$|^test_multi_target_error$"
)
SWAPPED_CLASSES = {
    "captum.attr._core.integrated_gradients": "IntegratedGradients",
    "captum.attr._core.noise_tunnel": "NoiseTunnel",
    "captum.attr._core.gradient_shap": "GradientShap",
}

PLUGIN = """
import importlib

import captum.attr  # every Captum class binds Captum's classes before the swap
import idgi_fast.captum as ours

for module_name, class_name in {swapped!r}.items():
    setattr(importlib.import_module(module_name), class_name, getattr(ours, class_name))
    setattr(captum.attr, class_name, getattr(ours, class_name))
"""


def selected(node_id: str) -> bool:
    return bool(SELECTED.search(node_id.rsplit("::", 1)[-1]))


def collect(folder: Path, files: tuple[str, ...]) -> list[str]:
    found = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=folder / "tests" / "attr",
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return [line for line in found if "::" in line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a clone of github.com/pytorch/captum")
    parser.add_argument("--captum", action="store_true", help="run Captum's own classes (the control)")
    options, pytest_args = parser.parse_known_args()  # the rest goes to pytest
    source = options.checkout / "tests" / "attr"
    if not (source / WHOLE_FILES[0]).is_file():
        parser.error(f"{source} has no {WHOLE_FILES[0]}: give the root of a Captum checkout")
    with tempfile.TemporaryDirectory(prefix="captum-suite-") as scratch:
        folder = Path(scratch)
        (folder / "tests" / "attr").mkdir(parents=True)
        for name in ("__init__.py",):
            (folder / "tests" / name).write_text("")
            (folder / "tests" / "attr" / name).write_text("")
        for name in WHOLE_FILES + SELECTED_FILES:
            shutil.copy(source / name, folder / "tests" / "attr" / name)
        if not options.captum:
            (folder / "tests" / "attr" / "conftest.py").write_text(PLUGIN.format(swapped=SWAPPED_CLASSES))
        cases = [
            case
            for case in collect(folder, WHOLE_FILES + SELECTED_FILES)
            if selected(case) or (case.split("::")[0] in WHOLE_FILES)
        ]
        print(f"{len(cases)} cases, {'Captum' if options.captum else 'idgi_fast'} classes", flush=True)
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                *[a for a in pytest_args if a != "--"],
                *cases,
            ],
            cwd=folder / "tests" / "attr",
        ).returncode


if __name__ == "__main__":
    sys.exit(main())
