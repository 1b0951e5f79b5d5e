"""accumulate and squared_norms (idgi_fast/ops/accumulate.py): one chunk of 64 path points of
3×224² into one count's base and IDGI sums over 8 images, and the points' squared norms."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    g = torch.randn(64, 3, 224, 224, generator=generator, device=device)
    multiplier = torch.randn_like(g)
    images = torch.arange(64, device=device) % 8
    coef = torch.randn(64, 1, generator=generator, device=device)
    scale = torch.randn_like(coef)
    base = torch.zeros(1, 8, 3, 224, 224, device=device)
    idgi = torch.zeros_like(base)
    return [
        OpCase(
            "accumulate",
            "64×3×224×224 → 1×8",
            torch.float32,
            lambda fn: fn(g, multiplier, coef, scale, images, base, idgi),
        ),
        OpCase("squared_norms", "64×3×224×224", torch.float32, lambda fn: fn(g)),
    ]


test_speed = speed_test(cases)
