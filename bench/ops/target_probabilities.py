"""target_probabilities (idgi_fast/ops/target_probabilities.py): the target's softmax probability
and the argmax of 512 rows of 1000 logits."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import poison_allocator, timed
from idgi_fast.ops import target_probabilities as probabilities


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    logits = torch.randn(512, 1000, generator=generator, device=device)
    targets = torch.randint(0, 1000, (512,), generator=generator, device=device)
    return [OpCase("target_probabilities", "512×1000", torch.float32, lambda fn: fn(logits, targets))]


test_speed = speed_test(cases)


def _rescoring_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The target probability and argmax of many logits."""
    for n_rows, classes in ((7, 5), (400, 1000)):
        logits = torch.randn(n_rows, classes, generator=gen, device=device) * 4
        targets = torch.randint(0, classes, (n_rows,), generator=gen, device=device)
        want_p, want_c = probabilities.target_probabilities_torch(logits, targets)
        poison_allocator(device)
        got_p, got_c = probabilities.target_probabilities_triton(logits, targets)
        error = float((got_p - want_p).abs().max()) if torch.equal(got_c, want_c) else float("inf")
        seconds = (
            timed(lambda: probabilities.target_probabilities_triton(logits, targets), rounds * 10)
            if n_rows > 100 and on_gpu
            else 0
        )
        rows.add(
            "rescoring (target probability, argmax)",
            f"{n_rows}×{classes}",
            error,
            1e-12,
            seconds or float("nan"),
            logits.numel() * 4 + n_rows * 24,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: probabilities.target_probabilities_torch(logits, targets), rounds * 10) * 1e3
            )


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (_rescoring_rows,)
