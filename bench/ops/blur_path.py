"""blur_path (idgi_fast/ops/blur_path.py): Blur IG's points and slopes for 16 points of 3×224²
at σ from 0 to 50."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import poison_allocator, timed
from idgi_fast.ops import blur_path as blur


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    images = torch.rand(16, 3, 224, 224, generator=generator, device=device)
    sigmas = torch.linspace(0.0, 50.0, 16, dtype=torch.float64)
    return [
        OpCase(
            "blur_path",
            f"16×3×224×224, {padding}",
            torch.float32,
            lambda fn, p=padding: fn(images, sigmas, 0.01, p),
        )
        for padding in ("zeros", "reflect")
    ]


test_speed = speed_test(cases)


def _blur_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The blur path kernel, both paddings."""
    for padding in ("zeros", "reflect"):
        for shape, sigmas in (
            ((5, 1, 16, 16), [0.0, 0.3, 3.0, 20.0, 50.0]),
            ((3, 3, 37, 53), [1.5, 9.0, 49.6]),
            ((4, 3, 224, 224), [0.0, 12.5, 37.5, 50.0]),
        ):
            if shape[-1] == 224 and not on_gpu:
                continue
            x = torch.rand(*shape, generator=gen, device=device)
            s = torch.tensor(
                sigmas[: shape[0]] + sigmas[: max(0, shape[0] - len(sigmas))], dtype=torch.float64
            )
            want_p, want_d = blur.blur_path_torch(x, s, 0.01, padding)
            poison_allocator(device)
            got_p, got_d = blur.blur_path_triton(x, s, 0.01, padding)
            error = float(
                torch.maximum(
                    (got_p - want_p).abs().max(),
                    (got_d - want_d).abs().max() / want_d.abs().max().clamp(min=1e-30),
                )
            )
            seconds = (
                timed(lambda: blur.blur_path_triton(x, s, 0.01, padding), rounds) if shape[-1] == 224 else 0
            )
            rows.add(
                f"blur path {padding}", "×".join(map(str, shape)), error, 1e-6, seconds or float("nan"), 0
            )
            if seconds:
                rows[-1]["torch ms"] = timed(lambda: blur.blur_path_torch(x, s, 0.01, padding), rounds) * 1e3


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (_blur_rows,)
