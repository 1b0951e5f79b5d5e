"""What the conformance tests share: small models whose outputs have every shape Captum's target
forms address, the data they explain, and the per-dtype tolerance of "the same result"."""

from __future__ import annotations

import torch
from torch import nn

# ours against Captum's on the same arguments: only the order of the sums differs
TOLERANCE = {torch.float64: dict(rtol=1e-12, atol=1e-12), torch.float32: dict(rtol=1e-5, atol=1e-6)}


class OneInput(nn.Module):
    """Logits (B, 3) of one input (B, 2, 3); an optional per-example shift and a scale."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(6, 3, generator=generator))

    def forward(self, x, shift=None, scale=1.0):
        h = torch.tanh(x.flatten(1) @ self.weight.to(x.dtype)) * 2.0
        return (h if shift is None else h + shift * h) * scale


class TwoInputs(nn.Module):
    """Logits (B, 3) of an image-like input (B, 2, 3) and a feature vector (B, 4), not separable
    between them."""

    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(1)
        self.image = nn.Parameter(torch.randn(6, 3, generator=generator))
        self.features = nn.Parameter(torch.randn(4, 3, generator=generator))

    def forward(self, x, f, shift=None, scale=1.0):
        h = torch.tanh(x.flatten(1) @ self.image.to(x.dtype))
        h = h + torch.sin(f @ self.features.to(f.dtype)) * h
        return (h if shift is None else h + shift) * scale


class GridOutput(nn.Module):
    """Outputs (B, 2, 3): each example's output a grid, addressed by tuple targets."""

    def forward(self, x):
        rows = torch.stack([torch.sin(x).flatten(1).sum(1), (x**2).flatten(1).sum(1)], dim=1)
        return rows.unsqueeze(2) * torch.arange(1.0, 4.0, dtype=x.dtype)


class ScalarOutput(nn.Module):
    """One number per example (B,): explained with target=None."""

    def forward(self, x):
        return torch.cos(x).flatten(1).sum(1)


def examples(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    image = torch.rand(3, 2, 3, generator=generator, dtype=torch.float64).to(dtype)
    features = torch.randn(3, 4, generator=generator, dtype=torch.float64).to(dtype)
    return image, features


def assert_same(mine, theirs, dtype: torch.dtype = torch.float64) -> None:
    """Tensors, or tuples of them, equal to the dtype's tolerance (and the same structure)."""
    assert isinstance(mine, tuple) == isinstance(theirs, tuple)
    pairs = zip(mine, theirs, strict=True) if isinstance(mine, tuple) else [(mine, theirs)]
    for a, b in pairs:
        assert a.shape == b.shape and a.dtype == b.dtype
        torch.testing.assert_close(a, b, **TOLERANCE[dtype])
