"""msssim_levels (idgi_fast/ops/msssim_levels.py): MS-SSIM of 25 levels of 2 images of 3×224²
with each image (window 11, five scales)."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test
from idgi_fast.reference.metrics.information import MSSSIM_WEIGHTS, msssim_module


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    levels = torch.rand(2, 25, 3, 224, 224, generator=generator, device=device)
    references = torch.rand(2, 3, 224, 224, generator=generator, device=device)
    taps = msssim_module._fspecial_gauss_1d(11, 1.5).flatten().to(torch.float64)
    weights = torch.tensor(MSSSIM_WEIGHTS, dtype=torch.float64)
    return [
        OpCase(
            "msssim_levels", "2×25×3×224×224", torch.float32, lambda fn: fn(levels, references, taps, weights)
        )
    ]


test_speed = speed_test(cases)
