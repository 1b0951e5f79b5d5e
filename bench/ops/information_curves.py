"""information_curves (idgi_fast/ops/information_curves.py): SIC/AIC curves on 1001 points and
their areas for 64 images × 25 levels."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    options = dict(generator=generator, device=device, dtype=torch.float64)
    x_levels = torch.rand(64, 25, **options) * 1.2 - 0.1
    y_levels = torch.rand(64, 25, **options) * 0.7
    ends = torch.full((64,), 1.1, dtype=torch.float64, device=device)
    return [
        OpCase(
            "information_curves",
            "64×25 → 1001",
            torch.float64,
            lambda fn: fn(x_levels, ends, y_levels, ends - 0.2, True, 1000),
        )
    ]


test_speed = speed_test(cases)
