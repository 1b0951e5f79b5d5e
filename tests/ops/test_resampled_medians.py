"""The resampled-medians op against numpy's median of the materialised resamples, exactly (every
output is one of the column's values, or the mean of two, by construction): odd and even counts,
ties, one curve, resamples far from the middle (the native walk's way out), and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idgi_fast.ops.native import native_error
from idgi_fast.ops.resampled_medians import resampled_medians

BACKENDS = ["torch"] + (["native"] if native_error() is None else [])


def _counts(indices: np.ndarray, n: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.bincount(row, minlength=n) for row in indices]).astype(np.int32))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n,points", [(1, 3), (2, 4), (7, 5), (8, 5), (101, 11), (400, 7)])
def test_medians_equal_numpys_on_the_materialised_resamples(backend, n, points):
    rng = np.random.default_rng(n)
    values = np.round(rng.uniform(size=(n, points)), 1)  # many ties
    indices = rng.integers(0, n, size=(40, n))
    indices[0] = np.arange(n)  # the images as they are
    want = np.median(values[indices], axis=1)
    got = resampled_medians(torch.from_numpy(values), _counts(indices, n), backend).numpy()
    assert np.array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_resamples_far_from_the_middle_rank(backend):
    """All draws on the lowest or highest values put the median far outside any window around
    the middle rank; a transposed (G, N) layout reads the same."""
    n, points = 3000, 3
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, points))
    lowest = np.argsort(values[:, 0])
    indices = np.stack(
        [np.full(n, lowest[0]), np.resize(lowest[:5], n), np.resize(lowest[-3:], n), rng.integers(0, n, n)]
    )
    want = np.median(values[indices], axis=1)
    by_point = torch.from_numpy(np.ascontiguousarray(values.T)).T
    got = resampled_medians(by_point, _counts(indices, n), backend).numpy()
    assert np.array_equal(got, want)


@pytest.mark.parametrize(
    "values,counts,message",
    [
        (torch.zeros(3, 2), torch.ones(1, 3, dtype=torch.int32), "float64"),
        (torch.zeros(3, 2, dtype=torch.float64), torch.ones(1, 3), "int32"),
        (torch.zeros(3, 2, dtype=torch.float64), torch.ones(1, 4, dtype=torch.int32), "N = 3"),
        (
            torch.full((3, 2), float("nan"), dtype=torch.float64),
            torch.ones(1, 3, dtype=torch.int32),
            "finite",
        ),
        (torch.zeros(3, 2, dtype=torch.float64), torch.tensor([[3, 1, 0]], dtype=torch.int32), "sum to N"),
    ],
)
def test_bad_input_is_named(values, counts, message):
    with pytest.raises(ValueError, match=message):
        resampled_medians(values, counts)
