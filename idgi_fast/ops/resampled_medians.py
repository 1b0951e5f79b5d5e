"""Resampled medians op: the point-wise median of N curves in every bootstrap resample, given by
how many times each curve is drawn, without building the resamples.

values (N, G) float64, finite; counts (R, N) int32, each row summing to N (a resample with
replacement of the N curves). Out (R, G) float64: for each resample and grid point the median of
the drawn values, the mean of the two middle ones for even N — numpy's median of values[indices]
and the report's aggregate_curves, exactly (every output is an element of the column or that
mean of two).

- torch: per chunk of resamples, the counts in each grid point's sorted order, cumulated, and
  the middle ranks looked up; R·N·G work, the vectorised fallback;
- native: csrc/resampled_medians.cpp: per grid point a partition around the middle rank, each
  resample's count below it carried from the previous grid point (a matrix product where it must
  start anew), and a short walk through a sorted window: about N·G + R·G·√N steps.
There is no Triton kernel: the report runs on the host.
"""

from __future__ import annotations

import numpy as np
import torch

from . import native
from .backends import implementation

CHUNK_ELEMENTS = 16_000_000  # the torch path's resamples × curves × points per chunk


def _check(values: torch.Tensor, counts: torch.Tensor) -> None:
    if values.dim() != 2 or values.dtype != torch.float64 or values.shape[0] == 0:
        raise ValueError(
            f"values must be (N, G) float64 with N > 0, got {tuple(values.shape)} {values.dtype}"
        )
    if counts.dim() != 2 or counts.dtype != torch.int32 or counts.shape[1] != values.shape[0]:
        raise ValueError(
            f"counts must be (R, N) int32 with N = {values.shape[0]}, "
            f"got {tuple(counts.shape)} {counts.dtype}"
        )
    # a finite sum is the quick answer; only an infinite one (or an overflow) looks at every value
    if not torch.isfinite(values.sum()) and not torch.isfinite(values).all():
        raise ValueError("values must be finite (a skipped image's curve is NaN: leave it out)")
    if not (counts.numpy(force=True).sum(axis=1, dtype=np.int64) == values.shape[0]).all():
        raise ValueError("every row of counts must sum to N: a resample draws N curves")


def resampled_medians_torch(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    n, grid = values.shape
    ordered, order = torch.sort(values, dim=0)  # (N, G): each grid point's values and their curves
    ranks = torch.tensor([(n - 1) // 2, n // 2])
    chunk = max(1, CHUNK_ELEMENTS // (n * grid))
    out = []
    for start in range(0, counts.shape[0], chunk):
        drawn = counts[start : start + chunk].to(torch.int64)[:, order]  # (r, N, G) in sorted order
        seen = torch.cumsum(drawn, dim=1)
        # the value at rank t sits where the running count first exceeds t
        positions = (seen[:, :, None, :] <= ranks[None, None, :, None]).sum(dim=1)  # (r, 2, G)
        picked = torch.gather(ordered.expand(positions.shape[0], n, grid), 1, positions.clamp(max=n - 1))
        out.append(0.5 * (picked[:, 0] + picked[:, 1]))
    return torch.cat(out)


def resampled_medians_native(values: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """csrc/resampled_medians.cpp: the same medians, without building the resamples."""
    return native.library().resampled_medians(values, counts)


RESAMPLED_MEDIANS = {"torch": resampled_medians_torch, "native": resampled_medians_native}


def resampled_medians(values: torch.Tensor, counts: torch.Tensor, backend: str = "torch") -> torch.Tensor:
    """(R, G) medians of R resamples (module docstring); backend "native" or "torch"."""
    _check(values, counts)
    return implementation(RESAMPLED_MEDIANS, backend, applies=values.device.type == "cpu")(values, counts)
