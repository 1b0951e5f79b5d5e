"""One weights loader for every model (models/weights.py): what users save loads, everything else
is refused with a message naming the file and the fix — never a torch traceback, never code run."""

from __future__ import annotations

import os

import pytest
import torch

from idgi_fast.models import load_model
from idgi_fast.models.toy import SceneNet, weights_path


class _RunsCode:
    """Unpickling this would run a shell command: weights_only=True must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _trained() -> SceneNet:
    torch.manual_seed(3)
    network = SceneNet()
    torch.nn.init.normal_(network.classifier.weight)
    return network


def _write(kind: str, path, tmp_path) -> None:
    state = _trained().state_dict()
    if kind == "truncated":
        torch.save(state, path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("these are not weights\n")
    elif kind == "runs code":
        torch.save({"classifier.weight": _RunsCode(tmp_path / "pwned")}, path)
    elif kind == "whole model":
        torch.save(_trained(), path)
    elif kind == "another architecture":
        torch.save(SceneNet(widths=(24, 48, 64, 128)).state_dict(), path)
    elif kind == "unrelated tensors":
        torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    elif kind == "empty dict":
        torch.save({}, path)
    elif kind == "a list":
        torch.save([torch.zeros(1)], path)


REFUSED = [
    ("truncated", r"cannot read weights file .*torch.save\(model.state_dict\(\), path\)"),
    ("empty", r"cannot read weights file"),
    ("text", r"cannot read weights file"),
    ("runs code", r"cannot read weights file .*weights_only=True"),
    ("whole model", r"cannot read weights file .*weights_only=True"),
    (
        "another architecture",
        r"does not match scenenet's architecture .*wrong shape: .*\(128, 64, 3, 3\).*train-toy",
    ),
    ("unrelated tensors", r"missing: .* and \d+ more; 1 unexpected: fc.weight"),
    ("empty dict", r"does not hold a state dict"),
    ("a list", r"does not hold a state dict"),
]


@pytest.mark.parametrize("kind, message", REFUSED, ids=[kind for kind, _ in REFUSED])
def test_a_bad_weights_file_is_refused_with_the_fix(kind, message, tmp_path):
    path = tmp_path / "weights.pt"
    _write(kind, path, tmp_path)
    with pytest.raises(ValueError, match=message):
        load_model("scenenet", path)
    assert not (tmp_path / "pwned").exists()


def test_a_missing_weights_file_names_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent.pt not found; retrain .*train-toy --out"):
        load_model("scenenet", tmp_path / "absent.pt")


@pytest.mark.parametrize(
    "wrap",
    [
        lambda state: state,
        lambda state: {"state_dict": state, "epoch": 3},
        lambda state: {"model": {f"module.{k}": v for k, v in state.items()}, "optimizer": {}},
        lambda state: {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")},
    ],
    ids=["state dict", "checkpoint", "DataParallel checkpoint", "no BatchNorm counters"],
)
def test_what_users_save_loads(wrap, tmp_path):
    trained = _trained()
    path = tmp_path / "weights.pt"
    torch.save(wrap(trained.state_dict()), path)
    loaded = load_model("scenenet", path)
    assert not loaded.training
    assert torch.equal(loaded.classifier.weight, trained.classifier.weight)


def test_the_packaged_weights_load_by_default():
    packaged = torch.load(weights_path(), weights_only=True)
    assert torch.equal(load_model("scenenet").classifier.weight, packaged["classifier.weight"])
