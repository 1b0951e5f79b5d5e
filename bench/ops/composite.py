"""composite (idgi_fast/ops/composite.py): the 25 bokeh levels of 8 images of 3×224²."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test
from idgi_fast.reference.metrics.common import level_counts, pixel_ranks


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    shown = torch.rand(8, 3, 224, 224, generator=generator, device=device)
    hidden = torch.rand(8, 3, 224, 224, generator=generator, device=device)
    saliency = torch.rand(8, 224, 224, generator=generator, device=device, dtype=torch.float64)
    ranks = torch.stack([pixel_ranks(s) for s in saliency])
    counts = level_counts(224 * 224, 24).to(device)
    return [
        OpCase(
            "composite", "8×3×224×224, 25 levels", torch.float32, lambda fn: fn(shown, hidden, ranks, counts)
        )
    ]


test_speed = speed_test(cases)
