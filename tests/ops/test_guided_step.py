"""The Guided IG step op: selection and step against kthvalue and the reference's per-image step."""

from __future__ import annotations

import math

import pytest
import torch
from tolerance import CANCELLING, EXACT, tolerance

from idgi_fast.ops.guided_step import (
    guided_step,
    guided_step_torch,
    guided_step_triton,
    selection_threshold_torch,
    selection_threshold_triton,
)
from idgi_fast.ops.native import native_error
from idgi_fast.reference.guided_ig import guided_step as reference_guided_step


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 1.0])
def test_selection_threshold_matches_kthvalue(fraction):
    generator = torch.Generator().manual_seed(3)
    score = torch.rand(5, 61, generator=generator, dtype=torch.float64) * 10
    score[0, :20] = math.inf  # features already at their bound
    score[1, 10:40] = 0.0  # zero gradients
    score[2] = 0.5  # all tied
    score[3, 1::2] = score[3, :-1:2]  # pairs of ties
    score[4, 5] = 1e-300  # subnormal neighbourhood
    torch.testing.assert_close(
        selection_threshold_triton(score, fraction, block=16, per_split=32),
        selection_threshold_torch(score, fraction),
        **EXACT,
    )


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


@pytest.mark.parametrize(
    "shape,k,steps,max_dist",
    [((5, 61), 3, 8, 0.02), ((3, 3 * 37 * 53), 0, 16, 0.02), ((4, 50), 5, 6, 1.0), ((2, 33), 1, 4, 0.0)],
)
def test_guided_step_matches_reference(shape, k, steps, max_dist):
    """The batched torch step is bit-identical to the reference's per-image step; the fused
    Triton kernels agree to float64 rounding."""
    x, x_in, x_base, gradient, distance = guided_state(*shape, seed=k)
    want_x, want_attr = x.clone(), torch.zeros_like(x)
    for b in range(shape[0]):
        if distance[b] != 0:
            want_x[b], want_attr[b] = reference_guided_step(
                x[b], x_in[b], x_base[b], gradient[b], float(distance[b]), (k + 1) / steps, 0.25, max_dist
            )
    got_x, got_attr = x.clone(), torch.zeros_like(x)
    guided_step_torch(got_x, got_attr, x_in, x_base, gradient, distance, (k + 1) / steps, 0.25, max_dist)
    torch.testing.assert_close(got_x, want_x, **EXACT)
    torch.testing.assert_close(got_attr, want_attr, **EXACT)
    for selection in ("kthvalue", "sort", "radix"):  # every way of finding each pass's threshold
        kernel_x, kernel_attr = x.clone(), torch.zeros_like(x)
        guided_step_triton(
            kernel_x,
            kernel_attr,
            x_in,
            x_base,
            gradient,
            distance,
            (k + 1) / steps,
            0.25,
            max_dist,
            block=32 if shape[1] < 1000 else 256,  # many blocks either way; the interpreter pays per block
            selection=selection,
        )
        torch.testing.assert_close(kernel_x, want_x, **tolerance(torch.float64))
        torch.testing.assert_close(kernel_attr, want_attr, **CANCELLING)
    assert not torch.equal(want_x, x), "the case must move the path"


@pytest.mark.skipif(native_error() is not None, reason="native ops not built")
@pytest.mark.parametrize(
    "shape,k,steps,max_dist,fraction",
    [
        ((5, 61), 3, 8, 0.02, 0.25),
        ((3, 3 * 37 * 53), 0, 16, 0.02, 0.25),
        ((4, 50), 5, 6, 1.0, 0.25),
        ((2, 33), 1, 4, 0.0, 0.25),
        ((6, 5 * 16 * 16), 2, 8, 1.0, 0.1),
        ((4, 40), 0, 3, 1.0, 1.0),
    ],
)
def test_the_native_step_is_bit_identical_to_the_torch_path(shape, k, steps, max_dist, fraction):
    """Ties, zero gradients, a zero-distance image and images that finish at different passes
    (the state and the fractions make them), on odd sizes; the C++ loop keeps the torch path's
    bits."""
    x, x_in, x_base, gradient, distance = guided_state(*shape, seed=k + steps)
    want_x, want_attr = x.clone(), torch.zeros_like(x)
    alpha = (k + 1) / steps
    guided_step_torch(want_x, want_attr, x_in, x_base, gradient, distance, alpha, fraction, max_dist)
    got_x, got_attr = x.clone(), torch.zeros_like(x)
    guided_step(
        got_x, got_attr, x_in, x_base, gradient, distance, alpha, fraction, max_dist, backend="native"
    )
    assert torch.equal(got_x, want_x) and torch.equal(got_attr, want_attr)
    assert not torch.equal(want_x, x), "the case must move the path"
