"""The blur path op: the Triton kernels and the native band op against the torch implementation,
radii beyond the image."""

from __future__ import annotations

import pytest
import torch
from tolerance import DTYPES, summed

from idgi_fast.geometry import blur_matrix
from idgi_fast.ops import native
from idgi_fast.ops.blur_path import blur_path_native, blur_path_torch, blur_path_triton
from idgi_fast.ops.native import native_error


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
    taps = 25  # σ = 3's radius 12 on each side: the longest sum of the chunk
    torch.testing.assert_close(points, want_points, **summed(dtype, taps))
    torch.testing.assert_close(slopes, want_slopes, **summed(dtype, taps, scale=1 / 0.01))
    assert torch.equal(points[0], chunk[0])
    only_points, none = blur_path_triton(chunk, sigmas, 0.01, padding, slopes=False, block_h=4, block_w=4)
    assert none is None and torch.equal(only_points, points)


def test_blur_path_of_an_odd_three_channel_image():
    images = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(2))
    sigmas = torch.tensor([1.5], dtype=torch.float64)
    want_points, want_slopes = blur_path_torch(images, sigmas, 0.01, "reflect")
    points, slopes = blur_path_triton(images, sigmas, 0.01, "reflect")
    taps = 11  # σ = 1.5's radius 5 on each side
    torch.testing.assert_close(points, want_points, **summed(torch.float32, taps))
    torch.testing.assert_close(slopes, want_slopes, **summed(torch.float32, taps, scale=1 / 0.01))


native_built = pytest.mark.skipif(native_error() is not None, reason="native ops not built")


@native_built
@pytest.mark.parametrize("shape", [(5, 1, 16, 16), (1, 3, 37, 53), (3, 2, 9, 5)])
@pytest.mark.parametrize("padding", ["zeros", "reflect"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_band_op_matches_torch_for_every_radius(shape, padding, dtype):
    """Every point its own σ, radii from 0 to beyond both sides; float64 within 1e-12 of the
    points' scale (the differences: of that scale / h, the rounding both sides' G' − G carries)."""
    images = torch.rand(*shape, generator=torch.Generator().manual_seed(3), dtype=dtype)
    sigmas = torch.tensor([0.0, 0.3, 1.7, 6.0, 40.0][: shape[0]], dtype=torch.float64)
    h = 0.01
    height, width = shape[-2:]
    levels = [float(s) for s in sigmas] + [float(s) + h for s in sigmas]
    along_h = torch.stack([blur_matrix(s, height, padding) for s in levels])
    along_w = torch.stack([blur_matrix(s, width, padding) for s in levels])
    first = torch.arange(shape[0])
    points, slopes = native.library().blur_path(images, along_h, along_w, first, first + shape[0], h)
    want_points, want_slopes = blur_path_torch(images, sigmas, h, padding)
    scale = float(want_points.abs().max())
    exact = dtype == torch.float64
    torch.testing.assert_close(points, want_points, rtol=0, atol=1e-12 * scale if exact else 1e-6)
    torch.testing.assert_close(
        slopes, want_slopes, rtol=0 if exact else 1e-5, atol=1e-12 * scale / h if exact else 1e-5
    )
    assert torch.equal(points[0], images[0])  # σ = 0: the identity
    only_points, none = native.library().blur_path(
        images, along_h, along_w, first, torch.full_like(first, -1), h
    )
    assert none.numel() == 0 and torch.equal(only_points, points)


@native_built
@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_the_native_blur_path_splits_band_and_dense_runs(padding):
    """The backend's op: runs of equal σ (the engine's step-major chunks), narrow ones through
    the band op, wide ones and the identity through the torch path, results in point order."""
    images = torch.rand(2, 3, 40, 40, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    sigmas = torch.tensor([0.0, 0.0, 1.0, 1.0, 2.5, 2.5, 30.0, 30.0], dtype=torch.float64)
    chunk = images[torch.arange(8) % 2]
    want = blur_path_torch(chunk, sigmas, 0.01, padding)
    got = blur_path_native(chunk, sigmas, 0.01, padding)
    scale = float(want[0].abs().max())
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=1e-12 * scale)
    torch.testing.assert_close(got[1], want[1], rtol=0, atol=1e-12 * scale / 0.01)
    points, none = blur_path_native(chunk, sigmas, 0.01, padding, slopes=False)
    assert none is None and torch.equal(points, got[0])
