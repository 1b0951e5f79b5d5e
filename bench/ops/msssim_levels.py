"""msssim_levels (idgi_fast/ops/msssim_levels.py): MS-SSIM of 25 levels of 2 images of 3×224²
with each image (window 11, five scales)."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import timed
from idgi_fast.metrics.information import msssim_of_levels
from idgi_fast.reference.metrics.information import MSSSIM_WEIGHTS, msssim, msssim_module


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    levels = torch.rand(2, 25, 3, 224, 224, generator=generator, device=device)
    references = torch.rand(2, 3, 224, 224, generator=generator, device=device)
    taps = msssim_module._fspecial_gauss_1d(11, 1.5).flatten().to(torch.float64)
    weights = torch.tensor(MSSSIM_WEIGHTS, dtype=torch.float64)
    return [
        OpCase(
            "msssim_levels", "2×25×3×224×224", torch.float32, lambda fn: fn(levels, references, taps, weights)
        )
    ]


test_speed = speed_test(cases)


def _msssim_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """MS-SSIM of many levels against one level at a time."""
    for n_images, side, win, scales in ((2, (23, 19), 3, 2), (4, (224, 224), 11, 5)):
        if side[0] > 100 and not on_gpu:
            continue
        references = torch.rand(n_images, 3, *side, generator=gen, device=device)
        levels = (
            references[:, None] + 0.3 * torch.rand(n_images, 5, 3, *side, generator=gen, device=device)
        ).clamp(0, 1)
        want = torch.stack(
            [
                msssim(levels[i], references[i : i + 1].expand_as(levels[i]), win, scales)
                for i in range(n_images)
            ]
        )
        got = msssim_of_levels(levels, references, win, scales)
        seconds = (
            timed(lambda: msssim_of_levels(levels, references, win, scales), rounds) if side[0] > 100 else 0
        )
        rows.add(
            "MS-SSIM of many levels (torch, GEMM filter)",
            f"{n_images}×5×3×{side[0]}×{side[1]}",
            float((got - want).abs().max()),
            1e-10,
            seconds or float("nan"),
            0,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(
                    lambda: [
                        msssim(levels[i], references[i : i + 1].expand_as(levels[i]), win, scales)
                        for i in range(n_images)
                    ],
                    rounds,
                )
                * 1e3
            )


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (_msssim_rows,)
