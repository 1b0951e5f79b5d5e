"""The information curves op: its Triton kernel against the torch curves."""

from __future__ import annotations

import pytest
import torch
from tolerance import tolerance


@pytest.mark.parametrize("normalise_x", [True, False])
def test_curve_op_equals_the_per_image_curves(normalise_x):
    """Ties in x, non-monotone information and scores, values outside [0, 1]: the torch op is the
    reference's per-image normalise + pic_curve + AUC bit for bit, the kernel to 1e-12."""
    from idgi_fast.ops.information_curves import information_curves_torch, information_curves_triton
    from idgi_fast.reference.metrics.pic import CURVE_POINTS, curve_auc, normalise, pic_curve

    generator = torch.Generator().manual_seed(4)
    x_levels = torch.rand(6, 9, generator=generator, dtype=torch.float64) * 1.2 - 0.1
    x_levels[0] = torch.linspace(0, 1, 9, dtype=torch.float64)
    x_levels[1, 3:6] = 0.5  # ties in x: the later point wins
    y_levels = torch.rand(6, 9, generator=generator, dtype=torch.float64) * 0.7
    x_input, y_input = torch.full((6,), 1.1, dtype=torch.float64), torch.full((6,), 0.9, dtype=torch.float64)
    x = normalise(x_levels, x_levels[:, 0], x_input) if normalise_x else x_levels.clamp(0, 1)
    y = normalise(y_levels, y_levels[:, 0], y_input)
    want = torch.stack([pic_curve(x[i], y[i]) for i in range(6)])
    curve, auc = information_curves_torch(x_levels, x_input, y_levels, y_input, normalise_x, CURVE_POINTS)
    assert torch.equal(curve, want) and torch.equal(auc, curve_auc(want))
    curve, auc = information_curves_triton(
        x_levels, x_input, y_levels, y_input, normalise_x, CURVE_POINTS, block=256
    )
    torch.testing.assert_close(curve, want, **tolerance(torch.float64))
    torch.testing.assert_close(auc, curve_auc(want), **tolerance(torch.float64))


@pytest.mark.parametrize("levels", [2, 5, 13, 27, 30])
def test_every_curve_tile_matches_the_torch_curves(levels):
    """Each LEVELS tile of the kernel (4, 8, 16, 32 points; 64 grid points a program at 32) on
    random, tied levels, against the torch op."""
    from idgi_fast.ops.information_curves import information_curves_torch, information_curves_triton
    from idgi_fast.reference.metrics.pic import CURVE_POINTS

    generator = torch.Generator().manual_seed(levels)
    x_levels = torch.rand(3, levels, generator=generator, dtype=torch.float64) * 1.2 - 0.1
    x_levels[1, : levels // 2] = 0.4  # ties in x
    y_levels = torch.rand(3, levels, generator=generator, dtype=torch.float64)
    ends = torch.full((3,), 1.1, dtype=torch.float64)
    want = information_curves_torch(x_levels, ends, y_levels, ends, True, CURVE_POINTS)
    got = information_curves_triton(x_levels, ends, y_levels, ends, True, CURVE_POINTS)
    for found, expected in zip(got, want):
        torch.testing.assert_close(found, expected, **tolerance(torch.float64))
