"""The models, inputs and attributions the bad-input tables share (tests/*/test_bad_input_*.py)."""

from __future__ import annotations

import torch
from conftest import TinyCNN
from torch import nn

MODEL = TinyCNN().eval()
X = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
ATTRIBUTION = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))


def with_batchnorm() -> nn.Module:
    """A CNN with BatchNorm and Dropout, left in training mode (as nn.Module starts)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )


class LogOfMean(nn.Module):
    """log of the mean pixel: −inf at the all-zeros baseline (path point j = 0)."""

    def forward(self, x):
        return MODEL(x) + torch.log(x.mean(dim=(1, 2, 3))).unsqueeze(1)


def detached(x):
    return MODEL(x).detach()


def integer_logits(x):
    return (MODEL(x) * 100).long()


def tuple_output(x):
    return (MODEL(x), x.sum())


def on_meta() -> nn.Module:
    return TinyCNN().eval().to("meta")


def nan_logits(x):
    return MODEL(x) * float("nan")


def empty_batch() -> torch.Tensor:
    return torch.rand(0, 3, 8, 8)


def with_nan() -> torch.Tensor:
    y = X.clone()
    y[1, 0, 2, 2] = float("nan")
    return y
