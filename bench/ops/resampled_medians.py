"""resampled_medians (idgi_fast/ops/resampled_medians.py): the bootstrap's median curve of 100
images' curves on 1001 points under 200 resamples."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    n, grid, resamples = 100, 1001, 200
    values = torch.rand(n, grid, dtype=torch.float64)
    drawn = torch.randint(0, n, (resamples, n), generator=torch.Generator().manual_seed(0))
    counts = torch.zeros(resamples, n, dtype=torch.int32).scatter_add_(
        1, drawn, torch.ones_like(drawn, dtype=torch.int32)
    )
    return [
        OpCase(
            "resampled_medians",
            f"{n}×{grid}, {resamples} resamples",
            torch.float64,
            lambda fn: fn(values, counts),
        )
    ]


test_speed = speed_test(cases)
