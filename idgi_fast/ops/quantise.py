"""Quantise op: images in [0, 1] to the 8-bit pixels an encoder takes, round(255·x) in float64,
half to even (the reference's to_uint8), channels last.

- torch: the reference's arithmetic, then a permuted copy;
- native: one pass in C++ (csrc/quantise.cpp) writing channels last; identical bytes.
There is no Triton kernel: the encoders run on the host, so CUDA images take the torch path.
"""

from __future__ import annotations

import torch

from . import native
from .backends import implementation


def quantise_hwc_torch(images: torch.Tensor) -> torch.Tensor:
    return torch.round(images.to(torch.float64) * 255.0).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def quantise_hwc_native(images: torch.Tensor) -> torch.Tensor:
    return native.library().quantise_hwc(images)


QUANTISE_HWC = {"torch": quantise_hwc_torch, "native": quantise_hwc_native}


def quantise_hwc(images: torch.Tensor, backend: str = "torch") -> torch.Tensor:
    """(N, C, H, W) float in [0, 1] → (N, H, W, C) uint8 on the images' device."""
    return implementation(QUANTISE_HWC, backend, applies=images.device.type == "cpu")(images)
