"""MS-SSIM of many level images at once (docs/semantics.md §6): the oracle's numbers
(pytorch-msssim's) from banded GEMMs (the torch and Triton backends) or, under the native
backend, fused over scales in C++ (csrc/msssim_levels.cpp)."""

from __future__ import annotations

import torch

from ..ops.native import msssim_levels
from ..reference.metrics.information import MSSSIM_WEIGHTS, check_msssim_options, msssim_module


def _valid_filter_matrix(window: torch.Tensor, size: int) -> torch.Tensor:
    """(size − k + 1, size) float64 matrix M with M @ v = the valid correlation of v with the k taps."""
    taps = window.flatten().to(torch.float64)
    k = taps.numel()
    shift = torch.arange(size)[None, :] - torch.arange(size - k + 1)[:, None]
    return torch.where((shift >= 0) & (shift < k), taps[shift.clamp(0, k - 1)], 0.0)


class _LocalMean:
    """Separable Gaussian local mean over valid windows, along H then W, as two GEMMs with banded
    matrices; a side shorter than the window is left unfiltered, as pytorch-msssim does.

    The GEMMs do about 20 times the multiply-adds of the 11 taps and still win on the CPU,
    where float64 depthwise convolutions take a slow path (bench/RESULTS.md, "MS-SSIM").
    """

    def __init__(self, window: torch.Tensor, device):
        self.window, self.device, self.matrices = window, device, {}

    def matrix(self, size: int):
        if size < self.window.numel():
            return None
        if size not in self.matrices:
            self.matrices[size] = _valid_filter_matrix(self.window, size).to(self.device)
        return self.matrices[size]

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        along_h, along_w = self.matrix(v.shape[-2]), self.matrix(v.shape[-1])
        if along_h is not None:
            v = torch.matmul(along_h, v)
        if along_w is not None:
            v = torch.matmul(v, along_w.transpose(0, 1))
        return v


def _halve(t: torch.Tensor, padding: list[int]) -> torch.Tensor:
    """The next MS-SSIM scale of (n, L, C, H, W) images: 2×2 average pooling, as pytorch-msssim."""
    pooled = torch.nn.functional.avg_pool2d(t.flatten(0, 1), kernel_size=2, padding=padding)
    return pooled.unflatten(0, t.shape[:2])


def ms_ssim_levels(
    levels: torch.Tensor,
    references: torch.Tensor,
    win_size: int = 11,
    scales: int = 5,
    backend: str = "torch",
) -> torch.Tensor:
    """(n, L) MS-SSIM of each of the L level images (n, L, C, H, W) of an image with that image
    (n, C, H, W): ms_ssim's numbers (the tests pin them to 1e-12), computed for many levels at once.

    The reference image's local statistics are computed once per image and scale, not once per
    level, and the Gaussian filter runs as banded GEMMs (_LocalMean); bench/RESULTS.md ("MS-SSIM")
    has the timings against pytorch-msssim.
    """
    check_msssim_options(levels.shape[-2], levels.shape[-1], win_size, scales)
    if backend == "native":
        return _ms_ssim_levels_native(levels, references, win_size, scales)
    x = levels.to(torch.float64)  # (n, L, C, H, W)
    y = references.to(torch.float64)[:, None]  # (n, 1, C, H, W): broadcast over the levels, never copied
    local_mean = _LocalMean(msssim_module._fspecial_gauss_1d(win_size, 1.5), x.device)
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float64, device=x.device)
    if scales < len(MSSSIM_WEIGHTS):
        weights = weights / weights.sum()
    c1, c2 = 0.01**2, 0.03**2
    factors = []
    for scale in range(scales):
        mu_x, mu_y = local_mean(x), local_mean(y)
        mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
        var_x = local_mean(x * x).sub_(mu_xx)
        var_y = local_mean(y * y).sub_(mu_yy)
        cov = local_mean(x * y).sub_(mu_xy)
        # (2·cov + c2) / (var_x + var_y + c2), in that order, in place on the level-sized buffers
        contrast_structure = cov.mul_(2).add_(c2).div_(var_x.add_(var_y).add_(c2))
        if scale < scales - 1:
            factors.append(torch.relu(contrast_structure.flatten(-2).mean(-1)))
            padding = [side % 2 for side in x.shape[-2:]]
            x, y = _halve(x, padding), _halve(y, padding)
        else:
            ssim = mu_xy.mul_(2).add_(c1).div_(mu_xx.add_(mu_yy).add_(c1)).mul_(contrast_structure)
            factors.append(torch.relu(ssim.flatten(-2).mean(-1)))
    return torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1, 1), dim=0).mean(dim=-1)


def _ms_ssim_levels_native(levels: torch.Tensor, references: torch.Tensor, win_size: int, scales: int):
    """ms_ssim_levels fused over scales in C++ (csrc/msssim_levels.cpp): each level plane runs
    through its own pyramid in cache-sized buffers; no level-sized map is written."""
    if references.dtype != levels.dtype:
        references = references.to(levels.dtype)
    taps = msssim_module._fspecial_gauss_1d(win_size, 1.5).flatten().to(torch.float64).contiguous()
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float64)
    if scales < len(MSSSIM_WEIGHTS):
        weights = weights / weights.sum()
    cs, ssim = msssim_levels(levels, references, taps, 0.01**2, 0.03**2, scales)
    factors = torch.relu(torch.cat([cs[:-1], ssim[-1:]]))  # (scales, n, L, C)
    return torch.prod(factors ** weights.view(-1, 1, 1, 1), dim=0).mean(dim=-1)
