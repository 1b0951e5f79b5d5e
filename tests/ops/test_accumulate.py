"""The accumulate op: the Triton kernels against the torch implementation (interpreter, odd shapes)."""

from __future__ import annotations

import pytest
import torch
from tolerance import DTYPES, tolerance

from idgi_fast.ops.accumulate import (
    accumulate_torch,
    accumulate_triton,
    squared_norms_torch,
    squared_norms_triton,
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_multiplier", [False, True])
@pytest.mark.parametrize("with_idgi", [False, True])
@pytest.mark.parametrize("counts", [1, 3])
@pytest.mark.parametrize("block", [64, None])  # a given tile, and the autotuned launch (its first tile here)
def test_accumulate_matches_torch(dtype, with_multiplier, with_idgi, counts, block):
    generator = torch.Generator().manual_seed(counts)
    g = torch.randn(7, 3, 5, 9, generator=generator, dtype=dtype)
    multiplier = torch.randn(7, 3, 5, 9, generator=generator, dtype=dtype) if with_multiplier else None
    images = torch.tensor([2, 0, 2, 1, 0, 2, 3])  # unsorted, one image absent from the chunk
    base_coef = torch.randn(7, counts, generator=generator, dtype=dtype)
    idgi_coef = torch.randn(7, counts, generator=generator, dtype=dtype) if with_idgi else None
    base = torch.randn(counts, 5, 3, 5, 9, generator=generator, dtype=dtype)
    idgi = torch.randn_like(base) if with_idgi else None
    want_base, want_idgi = base.clone(), (idgi.clone() if with_idgi else None)
    accumulate_torch(g, multiplier, base_coef, idgi_coef, images, want_base, want_idgi)
    accumulate_triton(g, multiplier, base_coef, idgi_coef, images, base, idgi, block=block)
    torch.testing.assert_close(base, want_base, **tolerance(dtype))
    if with_idgi:
        torch.testing.assert_close(idgi, want_idgi, **tolerance(dtype))
    assert torch.equal(base[:, 4], want_base[:, 4])  # an image without points is left as it was


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_norms_match_torch(dtype):
    g = torch.randn(5, 1, 37, 53, generator=torch.Generator().manual_seed(0), dtype=dtype)
    torch.testing.assert_close(squared_norms_triton(g, block=256), squared_norms_torch(g), **tolerance(dtype))
    assert squared_norms_triton(torch.zeros(2, 3, dtype=dtype)).tolist() == [0.0, 0.0]
