"""GPU check, section "kernels": every Triton kernel against its op's torch implementation on
odd sizes, with the caching allocator poisoned by NaN first, and its time against copy bandwidth
(each op's rows live in bench/ops/<op>.py as its CHECKS); on a card, every op's benchmark cases
timed as `pytest bench/ops` times them, appended to bench/data/results.csv."""

from __future__ import annotations

import torch

from bench.ops import (
    KernelRows,
    accumulate,
    blur_path,
    composite,
    guided_step,
    information_curves,
    linear_imputation,
    msssim_levels,
    piecewise_linear,
    quantise,
    resampled_medians,
    target_probabilities,
    time_cases,
)
from idgi_fast.utils.tables import markdown_table

# the ops with Triton kernels, in the table's order; every op's benchmark cases are timed on the card
KERNEL_OPS = (
    accumulate, blur_path, guided_step, composite, target_probabilities, information_curves, msssim_levels
)  # fmt: skip
ALL_OPS = KERNEL_OPS + (linear_imputation, piecewise_linear, quantise, resampled_medians)

COLUMNS = [
    "kernel",
    "shape",
    "max error",
    "limit",
    "pass",
    "ms",
    "torch ms",
    "GB/s",
    "% of copy",
    "device ms",
    "torch device ms",
    "% of copy (device)",
]


def check_kernels(report: dict, device: str, rounds: int, copy_gbps: float) -> int:
    rows = KernelRows(copy_gbps)
    gen = torch.Generator(device=device).manual_seed(0)
    on_gpu = device == "cuda"  # a CPU dry run interprets the kernels: small shapes only, no timings
    for module in KERNEL_OPS:
        for section in module.CHECKS:
            section(rows, device, gen, rounds, on_gpu)
    report["kernels"] = list(rows)
    if on_gpu:  # the same timings as `pytest bench/ops`, on the card, into bench/data/results.csv
        report["op timings"] = [row for module in ALL_OPS for row in time_cases(module, device, rounds)]
    print("\n## Triton kernels against their torch implementations (compiled; allocator poisoned with NaN)\n")
    print(
        "Timing rows: GB/s counts the bytes each kernel must read and write; guided selection reads the row "
        "16 times (one radix pass per 4-bit digit).\n"
    )
    print(markdown_table(rows, COLUMNS))
    return sum(not row["pass"] for row in rows)
