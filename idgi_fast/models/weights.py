"""One safe loader of weights files for every model of the package (the zoo and SceneNet).

Files are read with `torch.load(weights_only=True)`, so a file holding pickled code is refused
instead of run. What users save in practice loads: a plain state dict, a training checkpoint
that keeps it under "state_dict" or "model", keys prefixed "module." by DataParallel/DDP, and
DenseNet files from before torchvision 0.3. Everything else (a truncated, empty or text file, a
pickled whole model, another architecture's tensors) is refused with a message that names the
file, what is wrong and how to save a usable one.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

# DenseNet files from before torchvision 0.3 name layers "norm.1" where the modules are "norm1"
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


def _normalise_keys(state: dict, name: str) -> dict:
    if state and all(key.startswith("module.") for key in state):  # saved from DataParallel/DDP
        state = {key[len("module.") :]: value for key, value in state.items()}
    if name.startswith("densenet"):
        state = {_OLD_DENSENET_KEY.sub(r"\1\2", key): value for key, value in state.items()}
    return state


def read_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict (names → tensors) in a weights file, unwrapped from a training checkpoint."""
    path = Path(path)  # callers have checked that it is a file, and name the model when it is not
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickled whole model, custom classes, a truncated or non-torch file
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next(
            (line for line in lines if "Unsupported global" in line),
            lines[0] if lines else type(error).__name__,
        )
        raise ValueError(
            f"cannot read weights file {path} with torch.load(weights_only=True) ({detail}). "
            "Save the weights as a state dict: torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(state, dict):
        for key in ("state_dict", "model"):  # training checkpoints keep the weights under one of these
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        raise ValueError(
            f"weights file {path} does not hold a state dict (names → tensors); save one with "
            "torch.save(model.state_dict(), path)"
        )
    return state


def load_state_file(network: nn.Module, path: str | Path, name: str, architecture: str) -> None:
    """Load a weights file into `network` (the model `name`), refusing any missing, unexpected or
    mis-shaped tensor with a message naming them (not torch's wall of keys); `architecture`
    says where a matching file comes from."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} for {name} not found")
    state = _normalise_keys(read_state_file(path), name)
    expected = network.state_dict()
    # files older than BatchNorm's counter lack it; it does not affect evaluation, and torch fills it in
    missing = sorted(k for k in set(expected) - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(expected))
    mis_shaped = [
        f"{key} {tuple(state[key].shape)} (needs {tuple(expected[key].shape)})"
        for key in expected
        if key in state and state[key].shape != expected[key].shape
    ]
    if missing or unexpected or mis_shaped:
        problems = []
        for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mis_shaped)):
            if items:
                shown = ", ".join(items[:4]) + (f" and {len(items) - 4} more" if len(items) > 4 else "")
                problems.append(f"{len(items)} {label}: {shown}")
        raise ValueError(
            f"weights file {path} does not match {name}'s architecture ({'; '.join(problems)}). "
            f"Pass a state dict saved from the same architecture ({architecture})"
        )
    network.load_state_dict(state)  # a missing BatchNorm counter is filled in by torch
