"""How the study database stores a curve: the grid points where it bends, not every point.

Every curve the study keeps is piecewise linear on a uniform grid: a PIC curve (SIC/AIC, 1001
points) interpolates a handful of knots, flat wherever the score's running maximum holds, and
insertion/deletion have K + 1 points. Such a curve is its values at the grid points where its
second difference is not zero (and at both ends): linear interpolation between them gives every
other point back. The encoding keeps those (uint16 index, float64 value) pairs when that
reproduces every point within `TOLERANCE` and is smaller; else the dense float64 points; a
curve of NaNs (a skipped image) is its length alone.

Layout: one kind byte, a uint16 point count, then the payload (little-endian).
"""

from __future__ import annotations

import struct

import numpy as np
import torch

from ...ops.piecewise_linear import piecewise_linear

DENSE, BENDS, MISSING = 0, 1, 2
TOLERANCE = 1e-12  # the largest difference from the computed curve that the encoding may make
_HEADER = struct.Struct("<BH")


def encode_curve(points: np.ndarray) -> bytes:
    """The stored form of a curve (module docstring)."""
    values = np.asarray(points, dtype=np.float64).reshape(-1)
    size = values.size
    if size and np.isnan(values).all():
        return _HEADER.pack(MISSING, size)
    dense = _HEADER.pack(DENSE, size) + values.astype("<f8").tobytes()
    if size < 3 or not np.isfinite(values).all():
        return dense
    bend = np.abs(values[:-2] - 2 * values[1:-1] + values[2:]) > TOLERANCE * np.maximum(
        1.0, np.abs(values[1:-1])
    )
    kept = np.concatenate([[0], np.flatnonzero(bend) + 1, [size - 1]])
    if 10 * kept.size + _HEADER.size >= len(dense):
        return dense
    rebuilt = np.interp(np.arange(size, dtype=np.float64), kept.astype(np.float64), values[kept])
    if np.abs(rebuilt - values).max() > TOLERANCE * max(1.0, float(np.abs(values).max())):
        return dense
    return _HEADER.pack(BENDS, size) + kept.astype("<u2").tobytes() + values[kept].astype("<f8").tobytes()


def decode_curve(blob: bytes) -> np.ndarray:
    """The curve's float64 points from its stored form."""
    kind, size = _HEADER.unpack_from(blob)
    body = memoryview(blob)[_HEADER.size :]
    if kind == DENSE and len(body) == 8 * size:
        return np.frombuffer(body, dtype="<f8").astype(np.float64)
    if kind == MISSING and not len(body):
        return np.full(size, np.nan)
    if kind == BENDS and len(body) % 10 == 0:
        count = len(body) // 10
        kept = np.frombuffer(body[: 2 * count], dtype="<u2").astype(np.float64)
        values = np.frombuffer(body[2 * count :], dtype="<f8")
        return np.interp(np.arange(size, dtype=np.float64), kept, values)
    raise ValueError(f"not a stored curve: {len(blob)} bytes with kind {kind}")


def decode_curves(blobs: list[bytes], backend: str = "torch") -> np.ndarray:
    """(n, size) float64: n stored curves of one size decoded together, each row equal to what
    decode_curve gives; a transposed view of a (size, n) array, the layout
    ops.resampled_medians reads without a copy. backend: the piecewise-linear op's."""
    found = _knots(blobs)
    if found is None:
        return _one_by_one(blobs)
    knots, values, offsets, size = found
    points = piecewise_linear(
        torch.from_numpy(knots), torch.from_numpy(values), torch.from_numpy(offsets), size, backend
    )
    return points.numpy().T


def _one_by_one(blobs: list[bytes]) -> np.ndarray:
    """decode_curve of each (which names a blob that is not a stored curve), stacked."""
    curves = [decode_curve(blob) for blob in blobs]
    sizes = sorted({curve.size for curve in curves}, reverse=True)
    if len(sizes) > 1:
        raise ValueError(
            f"curves decoded together must have one length, got lengths {sizes[0]} and {sizes[1]}"
        )
    return np.stack(curves) if curves else np.empty((0, 0))


def _knots(blobs: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Every curve as knots — its bends; a dense curve's every point; a missing curve's two ends,
    NaN — as (knots int64, values float64, offsets (n + 1,), size); None for no curves, curves
    of different sizes, or one that is not a stored curve (decode_curve then says why)."""
    if not blobs:
        return None
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
    starts = np.cumsum(lengths) - lengths
    kinds, sizes = data[starts], data[starts + 1].astype(np.int64) | data[starts + 2].astype(np.int64) << 8
    size, body = int(sizes[0]), lengths - _HEADER.size
    known = ((kinds == DENSE) & (body == 8 * sizes)) | ((kinds == MISSING) & (body == 0))
    known |= (kinds == BENDS) & (body % 10 == 0) & (body > 10)
    if not (sizes == size).all() or not known.all() or size < 2:
        return None
    counts = np.where(kinds == BENDS, body // 10, np.where(kinds == DENSE, size, 2))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    knots, values = np.empty(offsets[-1], dtype=np.int64), np.full(offsets[-1], np.nan)
    for kind in (BENDS, DENSE):
        chosen = kinds == kind
        if not chosen.any():
            continue
        at, count = starts[chosen] + _HEADER.size, counts[chosen]
        where = _positions(offsets[:-1][chosen], count)
        if kind == BENDS:
            knots[where] = _bytes_at(data, at, 2 * count).view("<u2")
            values[where] = _bytes_at(data, at + 2 * count, 8 * count).view("<f8")
        else:
            knots[where] = np.tile(np.arange(size), int(chosen.sum()))
            values[where] = _bytes_at(data, at, 8 * count).view("<f8")
    missing = offsets[:-1][kinds == MISSING]
    knots[missing], knots[missing + 1] = 0, size - 1
    return knots, values, offsets, size


def _positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """start, start + 1, …, start + length − 1 of every (start, length), concatenated."""
    ends = np.cumsum(lengths)
    return np.arange(int(ends[-1]) if ends.size else 0) + np.repeat(starts - (ends - lengths), lengths)


def _bytes_at(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The bytes data[s : s + l] of every (start, length), concatenated (a copy, so views align)."""
    return data[_positions(starts, lengths)]
