"""information_curves (idgi_fast/ops/information_curves.py): SIC/AIC curves on 1001 points and
their areas for 64 images × 25 levels."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import poison_allocator, timed
from idgi_fast.ops import information_curves as curves


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    options = dict(generator=generator, device=device, dtype=torch.float64)
    x_levels = torch.rand(64, 25, **options) * 1.2 - 0.1
    y_levels = torch.rand(64, 25, **options) * 0.7
    ends = torch.full((64,), 1.1, dtype=torch.float64, device=device)
    return [
        OpCase(
            "information_curves",
            "64×25 → 1001",
            torch.float64,
            lambda fn: fn(x_levels, ends, y_levels, ends - 0.2, True, 1000),
        )
    ]


test_speed = speed_test(cases)


def _curve_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """SIC/AIC curves and AUCs."""
    for n_rows, levels in ((6, 9), (64, 25)):
        x_levels = torch.rand(n_rows, levels, generator=gen, device=device, dtype=torch.float64) * 1.2 - 0.1
        x_levels[0, 3:6] = 0.5  # ties
        y_levels = torch.rand(n_rows, levels, generator=gen, device=device, dtype=torch.float64) * 0.7
        ends = torch.full((n_rows,), 1.1, dtype=torch.float64, device=device)
        want_curve, want_auc = curves.information_curves_torch(
            x_levels, ends, y_levels, ends - 0.2, True, 1000
        )
        poison_allocator(device)
        got_curve, got_auc = curves.information_curves_triton(
            x_levels, ends, y_levels, ends - 0.2, True, 1000
        )
        error = max(float((got_curve - want_curve).abs().max()), float((got_auc - want_auc).abs().max()))
        seconds = (
            timed(
                lambda: curves.information_curves_triton(x_levels, ends, y_levels, ends - 0.2, True, 1000),
                rounds * 10,
            )
            if n_rows > 10 and on_gpu
            else 0
        )
        rows.add(
            "SIC/AIC curves + AUC (normalise, running max, sort, interpolate)",
            f"{n_rows}×{levels} → 1001",
            error,
            1e-10,
            seconds or float("nan"),
            0,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(
                    lambda: curves.information_curves_torch(x_levels, ends, y_levels, ends - 0.2, True, 1000),
                    rounds * 10,
                )
                * 1e3
            )


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (_curve_rows,)
