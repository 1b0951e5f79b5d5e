"""`idgi-fast info`: what runs here, as text and as JSON, and that what it says `auto` runs is what
explain runs."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
import torch

from idgi_fast import explain
from idgi_fast.cli import main
from idgi_fast.ops import native
from idgi_fast.ops.catalogue import OPS
from idgi_fast.utils import messages

KEYS = {"idgi_fast", "python", "platform", "torch", "triton", "cuda", "device", "native", "backends", "auto"}
KEYS |= {"ops", "precision"}


def _info(capsys) -> dict:
    assert main(["info", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))


def test_the_json_report_has_every_section_and_every_op(capsys):
    found = _info(capsys)
    assert set(found) == KEYS
    assert set(found["ops"]) == set(OPS)
    assert set(found["precision"]) == {"fp32", "tf32", "bf16"}
    assert set(found["backends"]) == {"reference", "torch", "native", "triton"}
    assert found["torch"]["version"] == torch.__version__
    assert found["native"]["loaded"] == (native.native_error() is None)
    for op, entry in found["ops"].items():
        assert set(entry["implementations"]) == set(OPS[op])
        cpu = entry["auto"]["cpu"]
        assert cpu["runs"] in entry["implementations"]
        # every implementation it has, and native and triton where it has none, is accounted for
        assert set(cpu["others"]) | {cpu["runs"]} == set(entry["implementations"]) | {"native", "triton"}
    if not torch.cuda.is_available():
        assert found["auto"]["cuda"] is None and found["device"] == "cpu"


def test_what_info_says_auto_runs_is_what_explain_runs(capsys):
    found = _info(capsys)
    result = explain(_model(), torch.rand(2, 3, 8, 8), steps=4, idgi=True, backend="auto")
    assert result.backend == found["auto"]["cpu"]
    assert found["ops"]["guided_step"]["auto"]["cpu"]["runs"] == found["auto"]["cpu"]


def test_without_the_native_ops_info_and_explain_both_fall_back_to_torch(capsys, monkeypatch):
    monkeypatch.setattr(native, "_state", {"tried": True, "error": "RuntimeError: no compiler (simulated)"})
    monkeypatch.setattr(messages, "_warned", set())
    found = _info(capsys)
    assert found["auto"]["cpu"] == "torch" and not found["native"]["loaded"]
    assert found["ops"]["blur_path"]["auto"]["cpu"]["others"]["native"] == (
        "not loaded: RuntimeError: no compiler (simulated)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = explain(_model(), torch.rand(2, 3, 8, 8), method="blur_ig", steps=4, backend="auto")
    assert result.backend == "torch"


@pytest.mark.parametrize("argv", [[], ["--json"]])
def test_python_m_idgi_fast_info_exits_0(argv):
    done = subprocess.run(
        [sys.executable, "-m", "idgi_fast.info", *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    if argv:
        assert set(json.loads(done.stdout)) == KEYS
    else:
        assert "auto runs" in done.stdout and all(op in done.stdout for op in OPS)
