"""composite (idgi_fast/ops/composite.py): the 25 bokeh levels of 8 images of 3×224²."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import poison_allocator, timed
from idgi_fast.ops import composite as comp
from idgi_fast.reference.metrics.common import level_counts, pixel_ranks


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    shown = torch.rand(8, 3, 224, 224, generator=generator, device=device)
    hidden = torch.rand(8, 3, 224, 224, generator=generator, device=device)
    saliency = torch.rand(8, 224, 224, generator=generator, device=device, dtype=torch.float64)
    ranks = torch.stack([pixel_ranks(s) for s in saliency])
    counts = torch.tensor(level_counts(224 * 224, 24), device=device)
    return [
        OpCase(
            "composite", "8×3×224×224, 25 levels", torch.float32, lambda fn: fn(shown, hidden, ranks, counts)
        )
    ]


test_speed = speed_test(cases)


def _composite_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """Composited insertion/bokeh images, bit-identical to torch's."""
    for n_images, levels, side in ((3, 6, (13, 11)), (16, 25, (224, 224))):
        if side[0] > 100 and not on_gpu:
            continue
        x = torch.rand(n_images, 3, *side, generator=gen, device=device)
        canvas = torch.rand_like(x)
        saliency = torch.randint(-3, 4, (n_images, *side), generator=gen, device=device).double()
        ranks = pixel_ranks(saliency)
        counts = torch.tensor(level_counts(side[0] * side[1], levels - 1), device=device)
        want = comp.composite_torch(x, canvas, ranks, counts)
        poison_allocator(device)
        got = comp.composite_triton(x, canvas, ranks, counts)
        error = 0.0 if torch.equal(got, want) else float("inf")  # bit-identical or failed
        seconds = (
            timed(lambda: comp.composite_triton(x, canvas, ranks, counts), rounds * 10)
            if on_gpu and side[0] > 100
            else 0
        )
        # per metric image pixel: its rank (int32) read, 3 channel values read and written
        rows.add(
            "composite (insertion/bokeh images)",
            f"{n_images}×{levels}×3×{side[0]}×{side[1]}",
            error,
            0.0,
            seconds or float("nan"),
            n_images * levels * side[0] * side[1] * (4 + 3 * 4 * 2),
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: comp.composite_torch(x, canvas, ranks, counts), rounds * 10) * 1e3
            )


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (_composite_rows,)
