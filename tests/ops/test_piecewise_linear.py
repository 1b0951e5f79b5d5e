"""The piecewise-linear op against np.interp curve by curve, exactly (the same arithmetic), and the
study's bulk curve decoding against its one-curve decoder for every stored kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idgi_fast.ops.native import native_error
from idgi_fast.ops.piecewise_linear import piecewise_linear
from idgi_fast.study.store.curves import decode_curve, decode_curves, encode_curve

BACKENDS = ["torch"] + (["native"] if native_error() is None else [])


def _curves(rng, n: int, size: int):
    knots, values, offsets = [], [], [0]
    for _ in range(n):
        inner = rng.choice(np.arange(1, size - 1), size=rng.integers(0, min(6, size - 2) + 1), replace=False)
        chosen = np.concatenate([[0], np.sort(inner), [size - 1]])
        knots.append(chosen)
        values.append(rng.normal(size=chosen.size))
        offsets.append(offsets[-1] + chosen.size)
    return np.concatenate(knots), np.concatenate(values), np.array(offsets)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,size", [(1, 2), (5, 3), (37, 101), (3, 1001)])
def test_points_equal_np_interp(backend, n, size):
    knots, values, offsets = _curves(np.random.default_rng(size), n, size)
    got = piecewise_linear(
        torch.from_numpy(knots), torch.from_numpy(values), torch.from_numpy(offsets), size, backend
    )
    assert got.shape == (size, n)
    for r in range(n):
        part = slice(offsets[r], offsets[r + 1])
        want = np.interp(np.arange(size, dtype=np.float64), knots[part].astype(np.float64), values[part])
        assert np.array_equal(got[:, r].numpy(), want)


def test_knots_that_do_not_span_the_grid_are_refused():
    knots, values, offsets = torch.tensor([0, 5]), torch.zeros(2, dtype=torch.float64), torch.tensor([0, 2])
    with pytest.raises(ValueError, match="size - 1 = 9"):
        piecewise_linear(knots, values, offsets, 10)
    with pytest.raises(ValueError, match="at least two knots"):
        piecewise_linear(torch.tensor([0]), values[:1], torch.tensor([0, 1]), 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bulk_decoding_equals_one_by_one(backend):
    """Bends, dense (noise does not compress) and missing (a skipped image) curves together."""
    rng = np.random.default_rng(3)
    size = 1001
    grid = np.arange(size, dtype=np.float64)
    curves = [np.interp(grid, [0, 100, 400, 1000], rng.uniform(size=4)) for _ in range(6)]
    curves += [rng.uniform(size=size), np.full(size, np.nan), np.full(size, 0.25)]
    blobs = [encode_curve(curve) for curve in curves]
    assert {blob[0] for blob in blobs} == {0, 1, 2}
    want = np.stack([decode_curve(blob) for blob in blobs])
    assert np.array_equal(decode_curves(blobs, backend), want, equal_nan=True)
    with pytest.raises(ValueError, match="lengths 1001 and 21"):
        decode_curves(blobs[:2] + [encode_curve(np.linspace(0, 1, 21))])
    with pytest.raises(ValueError, match="not a stored curve"):
        decode_curves(blobs[:2] + [b"\x07\x00\x00"])
