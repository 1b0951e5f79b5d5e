"""The MS-SSIM levels op: the native per-scale statistics against the torch path's, and the op on
every backend against pytorch-msssim one level at a time."""

from __future__ import annotations

import pytest
import torch
from tolerance import tolerance

from idgi_fast.ops import native
from idgi_fast.ops.msssim_levels import _halve, _LocalMean

built = pytest.mark.skipif(
    native.native_error() is not None, reason=f"native ops not built: {native.native_error()}"
)


def _scales_by_torch(x, y, taps, c1, c2, scales):
    """MS-SSIM's per-scale plane means of cs and ssim (scales, N, L, C) with the torch path's
    local mean and avg_pool2d, for float64 levels x (N, L, C, H, W) and references y (N, C, H, W)."""
    local_mean = _LocalMean(taps, x.device)
    y = y[:, None]
    cs_means, ssim_means = [], []
    for _ in range(scales):
        mu_x, mu_y = local_mean(x), local_mean(y)
        var_x, var_y = local_mean(x * x) - mu_x * mu_x, local_mean(y * y) - mu_y * mu_y
        cov = local_mean(x * y) - mu_x * mu_y
        cs = (2 * cov + c2) / (var_x + var_y + c2)
        ssim = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1) * cs
        cs_means.append(cs.flatten(-2).mean(-1))
        ssim_means.append(ssim.flatten(-2).mean(-1))
        padding = [side % 2 for side in x.shape[-2:]]
        x, y = _halve(x, padding), _halve(y, padding)
    return torch.stack(cs_means), torch.stack(ssim_means)


@built
@pytest.mark.parametrize(
    "shape, taps, scales",
    [
        ((1, 2, 3, 37, 53), 11, 1),
        ((2, 3, 2, 45, 61), 3, 3),
        ((5, 1, 1, 16, 16), 11, 1),
        ((2, 3, 2, 8, 40), 11, 2),
        ((1, 2, 1, 5, 6), 1, 2),
    ],
    ids=["odd sides", "odd sides over 3 scales", "small", "a side shorter than the window", "one tap"],
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_msssim_levels_matches_the_torch_statistics(shape, taps, scales, dtype):
    generator = torch.Generator().manual_seed(len(shape) + taps)
    references = torch.rand((shape[0], *shape[2:]), generator=generator, dtype=torch.float64)
    levels = (references[:, None] + 0.3 * torch.rand(shape, generator=generator, dtype=torch.float64)).clamp(
        0, 1
    )
    levels, references = levels.to(dtype), references.to(dtype)
    window = torch.rand(taps, generator=generator, dtype=torch.float64)
    window = window / window.sum()
    got = native.library().msssim_levels(levels, references, window, 1e-4, 9e-4, scales)
    want = _scales_by_torch(levels.double(), references.double(), window, 1e-4, 9e-4, scales)
    for g, w in zip(got, want):
        assert g.dtype == torch.float64 and g.shape == w.shape == (scales, *shape[:3])
        torch.testing.assert_close(g, w, **tolerance(torch.float64))
