"""The native ops' outer loops on 1 thread and on 2 (csrc/parallel.h), side by side in one process;
with --this-build, each op's median at the current thread count in whichever build of the ops this
process loads, as one JSON line (alternate processes with and without IDGI_FAST_NATIVE=jit to compare
the ahead-of-time build with the just-in-time one).

.venv/bin/python -m bench.tools.native_threads [--this-build]
"""

from __future__ import annotations

import json
import sys

import torch

from bench.timing import timed
from idgi_fast.ops.blur_path import blur_path_native
from idgi_fast.ops.guided_step import guided_step_native
from idgi_fast.ops.linear_imputation import linear_imputation_native
from idgi_fast.ops.msssim_levels import msssim_levels_native
from idgi_fast.ops.native import native_build_used
from idgi_fast.ops.piecewise_linear import piecewise_linear_native
from idgi_fast.ops.quantise import quantise_hwc_native
from idgi_fast.ops.resampled_medians import resampled_medians_native
from idgi_fast.utils.tables import markdown_table


def workloads() -> dict:
    g = torch.Generator().manual_seed(0)
    pixels = torch.rand(64, 3, 512, 512, dtype=torch.float64, generator=g)
    images = torch.rand(64, 3, 224, 224, dtype=torch.float64, generator=g)
    one_sigma = torch.full((64,), 2.0, dtype=torch.float64)
    many_sigmas = torch.linspace(0.5, 3, 64, dtype=torch.float64)
    curves = torch.rand(256, 1001, dtype=torch.float64, generator=g).cumsum(1) / 1001
    draws = torch.randint(0, 256, (1000, 256), generator=g)
    counts = torch.zeros(1000, 256, dtype=torch.int32).scatter_add_(
        1, draws, torch.ones_like(draws, dtype=torch.int32)
    )
    levels = torch.rand(4, 26, 3, 224, 224, dtype=torch.float64, generator=g)
    weights = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float64)
    taps = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    return {
        "quantise_hwc, 64 × 3 × 512²": lambda: quantise_hwc_native(pixels),
        "blur_path (band), 64 × 3 × 224², one σ = 2": lambda: blur_path_native(
            images, one_sigma, 0.01, "reflect"
        ),
        "blur_path (band), 64 × 3 × 224², 64 σ in [0.5, 3]": lambda: blur_path_native(
            images, many_sigmas, 0.01, "reflect"
        ),
        "resampled_medians, 256 curves × 1001 points × 1000 resamples": lambda: resampled_medians_native(
            curves, counts
        ),
        "msssim_levels, 4 × 26 levels × 3 × 224²": lambda: msssim_levels_native(
            levels, images[:4], taps / taps.sum(), weights
        ),
        **_more_workloads(g),
    }


def _more_workloads(g: torch.Generator) -> dict:
    x_in = torch.rand(16, 3 * 224 * 224, dtype=torch.float64, generator=g)
    gradient = torch.randn(x_in.shape, dtype=torch.float64, generator=g)
    images = torch.rand(16, 3, 64, 64, dtype=torch.float64, generator=g)
    removed = torch.rand(16, 64, 64, generator=g) < 0.3
    values = torch.rand(6000, dtype=torch.float64, generator=g)

    def guided_steps():
        x, attribution = torch.zeros_like(x_in), torch.zeros_like(x_in)
        distance = x_in.abs().sum(dim=1)
        for k in range(4):
            guided_step_native(
                x, attribution, x_in, torch.zeros_like(x_in), gradient, distance, (k + 1) / 4, 0.25, 0.02
            )

    return {
        "guided_step, 16 × 3·224², 4 steps": guided_steps,
        "linear_imputation, 16 × 3 × 64², 30 % removed": lambda: linear_imputation_native(images, removed),
        "piecewise_linear, 2000 curves × 101 points": lambda: piecewise_linear_native(
            torch.tensor([0, 40, 100] * 2000), values, torch.arange(0, 6001, 3), 101
        ),
    }


def main(rounds: int = 5) -> None:
    rows = []
    for name, run in workloads().items():
        seconds = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            seconds[threads] = timed(run, rounds)
        rows.append(
            {
                "op (native)": name,
                "1 thread s": seconds[1],
                "2 threads s": seconds[2],
                "speed-up": seconds[1] / seconds[2],
            }
        )
    print(markdown_table(rows, list(rows[0])))


def this_build(rounds: int = 5) -> None:
    build = native_build_used()
    seconds = {name: timed(run, rounds) for name, run in workloads().items()}
    print(json.dumps({"build": build["how"], "target": build["target"], "seconds": seconds}))


if __name__ == "__main__":
    this_build() if "--this-build" in sys.argv else main()
