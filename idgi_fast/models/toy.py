"""The embedded default model: a small CNN trained on the synthetic scenes, weights in the package.

Inputs are images in [0, 1] (B, 3, 224, 224); the normalisation is part of the model.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from ..data.scenes import SHAPE_CLASSES
from .weights import load_state_file

WEIGHTS_FILE = "scenenet.pt"
CARD_FILE = "scenenet.json"


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


class SceneNet(nn.Module):
    """Conv-BN-ReLU stages at 1/4, 1/8, 1/16 and 1/32 resolution, global average pool, linear."""

    def __init__(self, n_classes: int = len(SHAPE_CLASSES), widths: tuple[int, ...] = (24, 48, 64, 96)):
        super().__init__()
        layers: list[nn.Module] = [nn.AvgPool2d(2)]  # 224 → 112: shapes are large, detail is not needed
        c_in = 3
        for i, width in enumerate(widths):
            layers += _block(c_in, width, stride=2)
            if i >= 1:
                layers += _block(width, width, stride=1)
            c_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_in, n_classes)
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5))
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.25))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features((images - self.mean) / self.std)
        return self.classifier(features.mean(dim=(2, 3)))


def weights_path() -> Path:
    return Path(str(resources.files("idgi_fast.models").joinpath(WEIGHTS_FILE)))


def model_card() -> dict:
    """Training command, configuration and held-out accuracy stored beside the weights."""
    path = Path(str(resources.files("idgi_fast.models").joinpath(CARD_FILE)))
    return json.loads(path.read_text())


def load_scenenet(weights: str | Path | None = None, dtype: torch.dtype = torch.float32) -> SceneNet:
    """The trained embedded model in eval mode (no network needed); `weights` overrides the file."""
    path = Path(weights) if weights is not None else weights_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file {path} not found; retrain the embedded model with `idgi-fast train-toy --out "
            f"{path}`"
        )
    model = SceneNet()
    load_state_file(model, path, "scenenet", "SceneNet; `idgi-fast train-toy --out FILE` writes one")
    return model.to(dtype).eval()
