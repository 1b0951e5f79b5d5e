"""Piecewise-linear op: curves kept as their knots (the grid points where they bend, and both
ends) sampled back on the integer grid 0 … size − 1, all curves at once.

knots (K,) int64 and values (K,) float64 hold every curve's knots one curve after the other,
curve r's at offsets[r] … offsets[r + 1] − 1 (offsets (n + 1,) int64), its knots increasing from
0 to size − 1. Out (size, n) float64, grid point by curve (column r is curve r; `.T` gives
(n, size) without a copy): between knots, slope · (x − left knot) + its value, np.interp's
arithmetic, so that every point equals np.interp's.

- torch: the segments' slopes repeated over their points; a few passes over n · size values;
- native: csrc/piecewise_linear.cpp, one pass.
"""

from __future__ import annotations

import numpy as np
import torch

from . import native
from .backends import implementation


def _check(knots: torch.Tensor, values: torch.Tensor, offsets: torch.Tensor, size: int) -> None:
    if knots.dtype != torch.int64 or values.dtype != torch.float64 or offsets.dtype != torch.int64:
        raise ValueError(
            "knots and offsets must be int64, values float64; got "
            f"{knots.dtype}, {values.dtype}, {offsets.dtype}"
        )
    if knots.shape != values.shape or knots.dim() != 1 or offsets.dim() != 1 or offsets.numel() < 1:
        raise ValueError("knots and values must be (K,) and offsets (n + 1,)")
    k, o = knots.numpy(force=True), offsets.numpy(force=True)
    if o[0] != 0 or o[-1] != k.size or (np.diff(o) < 2).any():
        raise ValueError("offsets must run from 0 to K with at least two knots per curve")
    rising = np.diff(k) > 0
    rising[o[1:-1] - 1] = True  # from one curve's last knot to the next one's first
    if (k[o[:-1]] != 0).any() or (k[o[1:] - 1] != size - 1).any() or not rising.all():
        raise ValueError(f"each curve's knots must increase from 0 to size - 1 = {size - 1}")


def piecewise_linear_torch(
    knots: torch.Tensor, values: torch.Tensor, offsets: torch.Tensor, size: int
) -> torch.Tensor:
    last = offsets[1:] - 1
    following = torch.clamp(torch.arange(knots.numel()) + 1, max=knots.numel() - 1)
    span = knots[following] - knots
    span[last] = 1  # a curve's last knot: the grid's end, a segment of one point
    slope = (values[following] - values) / span.to(torch.float64)
    slope[last] = 0.0
    starts = (torch.cumsum(span, 0) - span).to(torch.float64)
    offset = torch.arange(int(span.sum()), dtype=torch.float64) - torch.repeat_interleave(starts, span)
    curves = torch.repeat_interleave(slope, span) * offset + torch.repeat_interleave(values, span)
    return curves.reshape(-1, size).T.contiguous()


def piecewise_linear_native(knots, values, offsets, size: int) -> torch.Tensor:
    """csrc/piecewise_linear.cpp: the same points, one pass per curve."""
    return native.library().piecewise_linear(knots, values, offsets, size)


PIECEWISE_LINEAR = {"torch": piecewise_linear_torch, "native": piecewise_linear_native}


def piecewise_linear(
    knots: torch.Tensor, values: torch.Tensor, offsets: torch.Tensor, size: int, backend: str = "torch"
) -> torch.Tensor:
    """(size, n) points of n curves given by their knots (module docstring); backend "native" or
    "torch"."""
    _check(knots, values, offsets, size)
    return implementation(PIECEWISE_LINEAR, backend)(knots, values, offsets, size)
