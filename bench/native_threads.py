"""The native ops' outer loops on 1 thread and on 2 (csrc/parallel.cpp), side by side in one process.

PYTHONPATH=. .venv/bin/python bench/native_threads.py
"""

from __future__ import annotations

import torch
from gpu_timing import timed  # bench/ is on sys.path when this file runs as a script

from idgi_fast.ops.blur_path import blur_path_native
from idgi_fast.ops.msssim_levels import msssim_levels_native
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


if __name__ == "__main__":
    main()
