"""The one timer of every benchmark (CPU and GPU alike) and the GPU check's comparison helpers."""

from __future__ import annotations

import statistics
import time

import torch

from idgi_fast.methods import METHOD_NAMES
from idgi_fast.runtime.graphs import StaticCall

METHODS = METHOD_NAMES
CHUNK = 64


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def synchronised(fn):
    """fn, then a wait for the GPU's queued work, so that a timer measures the work itself."""

    def run():
        fn()
        synchronize()

    return run


def seconds_of(fn, rounds: int) -> list[float]:
    """Wall seconds of `rounds` calls after one warm-up (allocator, cuDNN autotuning, Triton
    compilation), each waiting for the device."""
    fn()
    synchronize()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        synchronize()
        samples.append(time.perf_counter() - start)
    return samples


def timed(fn, rounds: int) -> float:
    """The median of seconds_of."""
    return statistics.median(seconds_of(fn, rounds))


def graphed_seconds(fn, reps: int = 20) -> float:
    """Device time of one fn() call: `reps` calls captured in one CUDA graph (StaticCall),
    replayed and timed with events, so that Python's launch overhead (tens of µs per Triton
    launch) is left out. NaN when fn cannot be captured (a host sync in its launcher)."""
    call = StaticCall(lambda: [fn() for _ in range(reps)], capture=True, what="a timed kernel")
    call()
    if not call.captured:
        return float("nan")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    for _ in range(5):
        start.record()
        call()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3 / reps)
    return statistics.median(samples)


def copy_bandwidth(device: str, gigabytes: float = 1.0) -> float:
    """Device-to-device copy, GB/s counting bytes read and written."""
    n = int(gigabytes * 2**30 / 4)
    src = torch.empty(n, device=device)
    dst = torch.empty_like(src)
    seconds = timed(lambda: dst.copy_(src), rounds=10)
    return 2 * n * 4 / seconds / 1e9


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm().clamp(min=1e-300))


def largest_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got − want| / max |want| (docs/semantics.md §7's form), NaN counted as failure."""
    got, want = got.double().cpu(), want.double().cpu()
    return float((got - want).abs().max() / want.abs().max().clamp(min=1e-300))


def poison_allocator(device: str, megabytes: int = 512) -> None:
    """Fill and free NaN blocks so that the caching allocator hands out NaN-filled memory next."""
    blocks = [
        torch.full((megabytes * 2**20 // 8 // 16,), float("nan"), dtype=torch.float64, device=device)
        for _ in range(16)
    ]
    del blocks
