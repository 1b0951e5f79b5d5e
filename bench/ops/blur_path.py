"""blur_path (idgi_fast/ops/blur_path.py): Blur IG's points and slopes for 16 points of 3×224²
at σ from 0 to 50."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    images = torch.rand(16, 3, 224, 224, generator=generator, device=device)
    sigmas = torch.linspace(0.0, 50.0, 16, dtype=torch.float64)
    return [
        OpCase(
            "blur_path",
            f"16×3×224×224, {padding}",
            torch.float32,
            lambda fn, p=padding: fn(images, sigmas, 0.01, p),
        )
        for padding in ("zeros", "reflect")
    ]


test_speed = speed_test(cases)
