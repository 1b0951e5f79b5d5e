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
