"""guided_step (idgi_fast/ops/guided_step.py): one Guided IG step of 8 images of 3×224²
(float64, a quarter of the remaining pixels selected)."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import poison_allocator, timed
from idgi_fast.ops import guided_step as guided


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


def _selection_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The radix-select threshold kernel against torch.kthvalue's."""
    for n_rows, n in ((5, 61), (16, 3 * 224 * 224)):
        if n > 1000 and not on_gpu:
            continue
        score = torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64)
        score[0, : n // 3] = float("inf")
        score[1, n // 4 : n // 2] = 0.0
        score[2] = 0.5
        poison_allocator(device)
        error = float(
            (guided.selection_threshold_triton(score, 0.25) - guided.selection_threshold_torch(score, 0.25))
            .abs()
            .max()
        )
        seconds = (
            timed(lambda: guided.selection_threshold_triton(score, 0.25), rounds * 10) if n > 1000 else 0
        )
        rows.add(
            "guided selection", f"{n_rows}×{n}", error, 0.0, seconds or float("nan"), 16 * score.numel() * 8
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: guided.selection_threshold_torch(score, 0.25), rounds * 10) * 1e3
            )


def _guided_step_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The Guided IG step kernels (every selection) against the torch step."""
    for n_rows, n in ((5, 61), (3, 3 * 37 * 53), (16, 3 * 224 * 224)):
        if n > 10000 and not on_gpu:
            continue
        x_in = torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64)
        x_base = torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64) * 0.2
        x_base[:, ::7] = x_in[:, ::7]
        x_base[0] = x_in[0]  # an image at its baseline: it must not move
        gradient = torch.randn(n_rows, n, generator=gen, device=device, dtype=torch.float64)
        gradient[1, ::3] = 0.0
        x_start = (
            x_base
            + (x_in - x_base) * torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64) * 0.3
        )
        distance = (x_in - x_base).abs().sum(dim=1)

        def step(implementation):
            x, attribution = x_start.clone(), torch.zeros_like(x_start)
            implementation(x, attribution, x_in, x_base, gradient, distance, 4 / 16, 0.25, 0.02)
            return x, attribution

        want_x, want_a = step(guided.guided_step_torch)
        poison_allocator(device)
        got_x, got_a = step(guided.guided_step_triton)
        error = float(
            torch.maximum(
                (got_x - want_x).abs().max() / want_x.abs().max(),
                (got_a - want_a).abs().max() / want_a.abs().max().clamp(min=1e-300),
            )
        )
        seconds = timed(lambda: step(guided.guided_step_triton), rounds * 3) if n > 10000 else 0
        rows.add(
            "guided step (jump, select, room, masked update)",
            f"{n_rows}×{n}",
            error,
            1e-9,
            seconds or float("nan"),
            0,
        )
        if seconds:
            rows[-1]["torch ms"] = timed(lambda: step(guided.guided_step_torch), rounds * 3) * 1e3
        for selection in ("sort", "radix"):  # the other selections: same element, so the same path

            def other(*args, selection=selection):
                return guided.guided_step_triton(*args, selection=selection)

            got_x, got_a = step(other)
            error = float(
                torch.maximum(
                    (got_x - want_x).abs().max() / want_x.abs().max(),
                    (got_a - want_a).abs().max() / want_a.abs().max().clamp(min=1e-300),
                )
            )
            seconds = timed(lambda: step(other), rounds * 3) if n > 10000 else 0
            rows.add(
                f"guided step, selection {selection}",
                f"{n_rows}×{n}",
                error,
                1e-9,
                seconds or float("nan"),
                0,
            )


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (
    _selection_rows,
    _guided_step_rows,
)
