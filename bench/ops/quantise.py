"""quantise_hwc (idgi_fast/ops/quantise.py): 26 images of 3×224² to 8-bit HWC for the encoder."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    images = torch.rand(26, 3, 224, 224, generator=generator, device=device)
    return [OpCase("quantise_hwc", "26×3×224×224", torch.float32, lambda fn: fn(images))]


test_speed = speed_test(cases)
