"""linear_imputation (idgi_fast/ops/linear_imputation.py): ROAD's imputation of 4 images of
3×64² with half their pixels removed."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    images = torch.rand(4, 3, 64, 64, generator=generator, device=device, dtype=torch.float64)
    removed = torch.rand(4, 64, 64, generator=generator, device=device) < 0.5
    return [
        OpCase("linear_imputation", "4×3×64×64, half removed", torch.float64, lambda fn: fn(images, removed))
    ]


test_speed = speed_test(cases)
