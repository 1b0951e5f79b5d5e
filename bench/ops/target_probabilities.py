"""target_probabilities (idgi_fast/ops/target_probabilities.py): the target's softmax probability
and the argmax of 512 rows of 1000 logits."""

from __future__ import annotations

import torch

from bench.ops import OpCase, speed_test


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    logits = torch.randn(512, 1000, generator=generator, device=device)
    targets = torch.randint(0, 1000, (512,), generator=generator, device=device)
    return [OpCase("target_probabilities", "512×1000", torch.float32, lambda fn: fn(logits, targets))]


test_speed = speed_test(cases)
