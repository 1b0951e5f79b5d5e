"""The blur path op: the Triton kernels against the torch implementation, radii beyond the image."""

from __future__ import annotations

import pytest
import torch
from tolerance import DTYPES

from idgi_fast.ops.blur_path import blur_path_torch, blur_path_triton


@pytest.mark.parametrize("padding", ["zeros", "reflect"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_blur_path_matches_torch_including_radii_beyond_the_image(padding, dtype):
    images = torch.rand(2, 1, 6, 7, generator=torch.Generator().manual_seed(1), dtype=dtype)
    # σ = 3 has radius 12 > 7; σ = 0 is the identity; 0.3 + h changes the radius
    sigmas = torch.tensor([0.0, 0.3, 3.0, 1.2, 0.1], dtype=torch.float64)
    chunk = images[torch.tensor([0, 1, 0, 1, 1])]
    want_points, want_slopes = blur_path_torch(chunk, sigmas, 0.01, padding)
    points, slopes = blur_path_triton(chunk, sigmas, 0.01, padding, block_h=4, block_w=4)
    assert points.dtype == dtype and slopes.dtype == dtype
    torch.testing.assert_close(points, want_points, rtol=0, atol=1e-15 if dtype == torch.float64 else 1e-7)
    torch.testing.assert_close(slopes, want_slopes, rtol=1e-6, atol=1e-7)
    assert torch.equal(points[0], chunk[0])
    only_points, none = blur_path_triton(chunk, sigmas, 0.01, padding, slopes=False, block_h=4, block_w=4)
    assert none is None and torch.equal(only_points, points)


def test_blur_path_of_an_odd_three_channel_image():
    images = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(2))
    sigmas = torch.tensor([1.5], dtype=torch.float64)
    want_points, want_slopes = blur_path_torch(images, sigmas, 0.01, "reflect")
    points, slopes = blur_path_triton(images, sigmas, 0.01, "reflect")
    torch.testing.assert_close(points, want_points, rtol=0, atol=1e-7)
    torch.testing.assert_close(slopes, want_slopes, rtol=1e-6, atol=1e-7)
