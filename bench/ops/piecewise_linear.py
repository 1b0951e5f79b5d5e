"""piecewise_linear (idgi_fast/ops/piecewise_linear.py): 2 000 stored curves of 20 bends each
decoded onto their 1001 grid points."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    curves, bends, size = 2000, 20, 1001
    # each curve's inner bends: distinct grid points drawn at random, in order
    draws = torch.rand(curves, size - 2, generator=torch.Generator().manual_seed(0))
    inner = draws.argsort(dim=1)[:, : bends - 2].sort(dim=1).values + 1
    knots = torch.cat(
        [torch.zeros(curves, 1, dtype=torch.int64), inner, torch.full((curves, 1), size - 1)], 1
    )
    values = torch.rand(curves * bends, dtype=torch.float64)
    offsets = torch.arange(0, curves * bends + 1, bends, dtype=torch.int64)
    return [
        OpCase(
            "piecewise_linear",
            f"{curves}×{bends} bends → {size}",
            torch.float64,
            lambda fn: fn(knots.flatten(), values, offsets, size),
        )
    ]


test_speed = speed_test(cases)
