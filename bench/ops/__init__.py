"""One benchmark module per op, bench/ops/<op>.py beside idgi_fast/ops/<op>.py and
tests/ops/test_<op>.py. Each defines `cases(device, generator)`: the op's representative calls,
one per shape and dtype, each runnable on every implementation in the op's table. `pytest bench/`
times them on every implementation this machine runs (`speed_test`), and the GPU check does the
same on a card (`time_cases`); both append rows to bench/data/results.csv. A module with Triton
kernels also defines `check(rows, device, generator, rounds, on_gpu)`: the GPU check's
correctness rows for them (KernelRows)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from bench import results
from bench.timing import graphed_seconds, seconds_of, synchronize
from idgi_fast.ops.catalogue import OPS
from idgi_fast.ops.native import native_error


@dataclass
class OpCase:
    """One representative call of an op: `call(implementation)` runs it once on fresh outputs."""

    op: str
    shape: str
    dtype: torch.dtype
    call: Callable


def implementations_here(op: str, device: str) -> list[str]:
    """The implementations of an op that run on this device: triton on CUDA, native where built."""
    table = OPS[op]
    usable = {"torch": True, "triton": device == "cuda", "native": device == "cpu" and native_error() is None}
    return [name for name in table if usable.get(name, False)]


def time_cases(module, device: str, rounds: int) -> list[dict]:
    """Every case of an op module on every implementation here, as results.csv rows."""
    generator = torch.Generator(device=device).manual_seed(0)
    rows = []
    for case in module.cases(device, generator):
        for name in implementations_here(case.op, device):
            samples = seconds_of(lambda: case.call(OPS[case.op][name]), rounds)
            rows.append(results.row(case.op, name, case.shape, case.dtype, device, samples))
    results.append(rows)
    return rows


def speed_test(cases: Callable):
    """A pytest-benchmark test over an op module's cases × the implementations this machine runs."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    generator = torch.Generator(device=device).manual_seed(0)
    built = cases(device, generator)
    parameters = [
        pytest.param(case, name, id=f"{case.op}-{name}-{case.shape}")
        for case in built
        for name in implementations_here(case.op, device)
    ]

    @pytest.mark.parametrize("case,implementation", parameters)
    def test_speed(benchmark, record_row, case, implementation):
        benchmark.group = f"op {case.op}: {case.shape}"
        fn = OPS[case.op][implementation]
        benchmark.pedantic(lambda: _synchronised(case.call, fn), rounds=5, iterations=1, warmup_rounds=1)
        record_row(case.op, implementation, case.shape, case.dtype, device, benchmark)

    return test_speed


def _synchronised(call, fn) -> None:
    call(fn)
    synchronize()


class KernelRows(list):
    """The GPU check's kernel table: one row per kernel and shape, its error against the limit
    and its time."""

    def __init__(self, copy_gbps: float):
        super().__init__()
        self.copy_gbps = copy_gbps

    def add(self, name, shape, error, limit, seconds, nbytes) -> None:
        finite_ok = error == error  # NaN never passes
        self.append(
            {
                "kernel": name,
                "shape": shape,
                "max error": error,
                "limit": limit,
                "pass": bool(finite_ok and error <= limit),
                "ms": seconds * 1e3,
                "GB/s": nbytes / seconds / 1e9 if nbytes else float("nan"),
                "% of copy": 100 * nbytes / seconds / 1e9 / self.copy_gbps if nbytes else float("nan"),
            }
        )

    def add_device_time(self, fn, nbytes) -> None:
        """The last row's kernel again, timed on the device alone (graphed_seconds)."""
        seconds = graphed_seconds(fn)
        self[-1]["device ms"] = seconds * 1e3
        self[-1]["% of copy (device)"] = 100 * nbytes / seconds / 1e9 / self.copy_gbps
