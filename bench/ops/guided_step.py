"""guided_step (idgi_fast/ops/guided_step.py): one Guided IG step of 8 images of 3×224²
(float64, a quarter of the remaining pixels selected)."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    n_rows, n = 8, 3 * 224 * 224
    options = dict(generator=generator, device=device, dtype=torch.float64)
    x_in = torch.rand(n_rows, n, **options)
    x_base = torch.rand(n_rows, n, **options) * 0.2
    gradient = torch.randn(n_rows, n, **options)
    x_start = x_base + (x_in - x_base) * torch.rand(n_rows, n, **options) * 0.3
    distance = (x_in - x_base).abs().sum(dim=1)

    def step(fn):
        x, attribution = x_start.clone(), torch.zeros_like(x_start)
        fn(x, attribution, x_in, x_base, gradient, distance, 4 / 16, 0.25, 0.02)

    return [OpCase("guided_step", f"{n_rows}×{n}", torch.float64, step)]


test_speed = speed_test(cases)
