"""The quantise op: the native pass against the torch implementation (the reference's to_uint8),
byte for byte, including values whose 255·x falls half-way between two integers."""

from __future__ import annotations

import pytest
import torch
from tolerance import DTYPES

from idgi_fast.ops.native import native_error
from idgi_fast.ops.quantise import quantise_hwc, quantise_hwc_torch
from idgi_fast.reference.metrics.common import to_uint8


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3, 37, 53), (2, 1, 5, 7)])
def test_quantise_matches_the_reference_bytes(shape, dtype):
    images = torch.rand(*shape, generator=torch.Generator().manual_seed(5), dtype=dtype)
    flat = images.view(-1)
    flat[: min(256, flat.numel())] = (torch.arange(min(256, flat.numel()), dtype=dtype) + 0.5) / 255  # ties
    flat[:2] = torch.tensor([0.0, 1.0], dtype=dtype)
    want = to_uint8(images).permute(0, 2, 3, 1)
    assert torch.equal(quantise_hwc_torch(images), want)
    if native_error() is None:
        got = quantise_hwc(images, "native")
        assert got.dtype == torch.uint8 and got.is_contiguous() and torch.equal(got, want)
