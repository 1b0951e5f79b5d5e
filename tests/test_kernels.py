"""Every Triton kernel against its op's torch implementation, in Triton's interpreter on the CPU,
over odd shapes, both dtypes and the edge cases each kernel has to get right."""
from __future__ import annotations

import math

import pytest
import torch

from idgi_fast.ops import dispatch
from idgi_fast.ops.accumulate import accumulate_torch, accumulate_triton, squared_norms_torch, squared_norms_triton
from idgi_fast.ops.blur_path import blur_path, blur_path_torch, blur_path_triton
from idgi_fast.ops.guided_step import (guided_step_torch, guided_step_triton, selection_threshold_torch,
                                      selection_threshold_triton)
from idgi_fast.reference.guided_ig import guided_step as reference_guided_step

DTYPES = (torch.float32, torch.float64)


def tolerance(dtype):
    return dict(rtol=1e-6, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_multiplier", [False, True])
@pytest.mark.parametrize("with_idgi", [False, True])
@pytest.mark.parametrize("counts", [1, 3])
def test_accumulate_matches_torch(dtype, with_multiplier, with_idgi, counts):
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
    accumulate_triton(g, multiplier, base_coef, idgi_coef, images, base, idgi, block=64)
    torch.testing.assert_close(base, want_base, **tolerance(dtype))
    if with_idgi:
        torch.testing.assert_close(idgi, want_idgi, **tolerance(dtype))
    assert torch.equal(base[:, 4], want_base[:, 4])  # an image without points is left as it was


@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_norms_match_torch(dtype):
    g = torch.randn(5, 1, 37, 53, generator=torch.Generator().manual_seed(0), dtype=dtype)
    torch.testing.assert_close(squared_norms_triton(g, block=256), squared_norms_torch(g), **tolerance(dtype))
    assert squared_norms_triton(torch.zeros(2, 3, dtype=dtype)).tolist() == [0.0, 0.0]


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


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_selection_threshold_matches_kthvalue(fraction):
    generator = torch.Generator().manual_seed(3)
    score = torch.rand(5, 61, generator=generator, dtype=torch.float64) * 10
    score[0, :20] = math.inf  # features already at their bound
    score[1, 10:40] = 0.0  # zero gradients
    score[2] = 0.5  # all tied
    score[3, 1::2] = score[3, :-1:2]  # pairs of ties
    score[4, 5] = 1e-300  # subnormal neighbourhood
    torch.testing.assert_close(selection_threshold_triton(score, fraction, block=16, per_split=32),
                               selection_threshold_torch(score, fraction), rtol=0, atol=0)


def guided_state(batch: int, n: int, seed: int):
    """Flat float64 Guided IG state with the cases the step must get right: an image with zero
    distance, features with x_in = x', tied and zero gradients, and a point already part-way."""
    generator = torch.Generator().manual_seed(seed)
    x_in = torch.rand(batch, n, generator=generator, dtype=torch.float64)
    x_base = torch.rand(batch, n, generator=generator, dtype=torch.float64) * 0.2
    x_base[:, ::7] = x_in[:, ::7]  # features that never move
    x_base[0] = x_in[0]  # an image at its baseline: distance 0
    gradient = torch.randn(batch, n, generator=generator, dtype=torch.float64)
    gradient[1, ::3] = 0.0
    gradient[-1, 1::2] = gradient[-1, :-1:2]
    t = torch.rand(batch, n, generator=generator, dtype=torch.float64) * 0.3
    x = x_base + (x_in - x_base) * t
    return x, x_in, x_base, gradient, (x_in - x_base).abs().sum(dim=1)


@pytest.mark.parametrize("shape,k,steps,max_dist", [((5, 61), 3, 8, 0.02), ((3, 3 * 37 * 53), 0, 16, 0.02),
                                                     ((4, 50), 5, 6, 1.0), ((2, 33), 1, 4, 0.0)])
def test_guided_step_matches_reference(shape, k, steps, max_dist):
    """The batched torch step is bit-identical to the reference's per-image step; the fused
    Triton kernels agree to float64 rounding."""
    x, x_in, x_base, gradient, distance = guided_state(*shape, seed=k)
    want_x, want_attr = x.clone(), torch.zeros_like(x)
    for b in range(shape[0]):
        if distance[b] != 0:
            want_x[b], want_attr[b] = reference_guided_step(x[b], x_in[b], x_base[b], gradient[b], float(distance[b]),
                                                            k, steps, 0.25, max_dist)
    got_x, got_attr = x.clone(), torch.zeros_like(x)
    guided_step_torch(got_x, got_attr, x_in, x_base, gradient, distance, k, steps, 0.25, max_dist)
    torch.testing.assert_close(got_x, want_x, rtol=0, atol=0)
    torch.testing.assert_close(got_attr, want_attr, rtol=0, atol=0)
    kernel_x, kernel_attr = x.clone(), torch.zeros_like(x)
    guided_step_triton(kernel_x, kernel_attr, x_in, x_base, gradient, distance, k, steps, 0.25, max_dist, block=32)
    torch.testing.assert_close(kernel_x, want_x, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(kernel_attr, want_attr, rtol=1e-10, atol=1e-15)
    assert not torch.equal(want_x, x), "the case must move the path"


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        blur_path(torch.zeros(1, 1, 4, 4), torch.zeros(1, dtype=torch.float64), 0.01, "zeros", backend="triton")
    with pytest.raises(ValueError, match="op backend must be one of"):
        dispatch.check_backend("cuda", torch.zeros(1))
