"""bench/tools/captum_suite.py, which runs Captum's own tests with our classes swapped in: it picks the
cases that build our classes, and its plugin really swaps them (in a child process, so that this
process keeps Captum's classes for the side-by-side tests)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("captum.attr")
spec = importlib.util.spec_from_file_location(
    "captum_suite", Path(__file__).parents[2] / "bench" / "tools" / "captum_suite.py"
)
captum_suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(captum_suite)


@pytest.mark.parametrize(
    "case,picked",
    [
        ("test_targets.py::TestTargets::test_target_basic_multi_target_IntegratedGradients", True),
        ("test_targets.py::TestTargets::test_target_basic_single_tensor_target_nt_SaliencyNoiseTunnel", True),
        ("test_hook_removal.py::TestHookRemoval::test_hook_removal_normal_basic_x_GradientShap", True),
        ("test_targets.py::TestTargets::test_multi_target_error", True),
        ("test_feature_ablation.py::Test::test_simple_ablation_int_to_int_nt", True),
        ("test_targets.py::TestTargets::test_target_basic_layer_LayerIntegratedGradients", False),
        ("test_targets.py::TestTargets::test_target_basic_neuron_NeuronIntegratedGradients", False),
        ("test_targets.py::TestTargets::test_target_basic_DeepLift", False),
        ("test_feature_ablation.py::Test::test_simple_ablation", False),
    ],
)
def test_the_suite_picks_the_cases_that_build_our_classes(case, picked):
    assert captum_suite.selected(case) == picked


def test_the_plugin_swaps_the_names_captums_tests_import_and_leaves_captums_other_classes_alone():
    check = captum_suite.PLUGIN.format(swapped=captum_suite.SWAPPED_CLASSES) + (
        "\nfrom captum.attr._core.integrated_gradients import IntegratedGradients"
        "\nfrom captum.attr._core.noise_tunnel import NoiseTunnel"
        "\nfrom captum.attr._core.gradient_shap import GradientShap"
        "\nassert IntegratedGradients is ours.IntegratedGradients and NoiseTunnel is ours.NoiseTunnel"
        "\nassert GradientShap is ours.GradientShap and captum.attr.GradientShap is GradientShap"
        "\nimport captum.attr._core.layer.layer_integrated_gradients as lig"
        "\nassert lig.IntegratedGradients is not ours.IntegratedGradients"
    )
    subprocess.run([sys.executable, "-c", check], check=True)
