"""MS-SSIM levels op (docs/semantics.md §6): MS-SSIM of many level images of an image against that
image at once, pytorch-msssim's numbers.

- torch: the reference image's local statistics once per image and scale, not once per level,
  and the Gaussian filter as banded GEMMs (_LocalMean);
- native: fused over scales in C++ (csrc/msssim_levels.cpp): each level plane runs through its
  own pyramid in cache-sized buffers, and no level-sized map is written.
"""

from __future__ import annotations

import torch

from . import native
from .backends import implementation

C1, C2 = 0.01**2, 0.03**2  # pytorch-msssim's stabilising constants, for data range 1


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


def msssim_levels_torch(
    levels: torch.Tensor, references: torch.Tensor, taps: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    x = levels.to(torch.float64)  # (n, L, C, H, W)
    y = references.to(torch.float64)[:, None]  # (n, 1, C, H, W): broadcast over the levels, never copied
    local_mean = _LocalMean(taps, x.device)
    weights = weights.to(device=x.device, dtype=torch.float64)
    scales = weights.numel()
    factors = []
    for scale in range(scales):
        mu_x, mu_y = local_mean(x), local_mean(y)
        mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
        var_x = local_mean(x * x).sub_(mu_xx)
        var_y = local_mean(y * y).sub_(mu_yy)
        cov = local_mean(x * y).sub_(mu_xy)
        # (2·cov + c2) / (var_x + var_y + c2), in that order, in place on the level-sized buffers
        contrast_structure = cov.mul_(2).add_(C2).div_(var_x.add_(var_y).add_(C2))
        if scale < scales - 1:
            factors.append(torch.relu(contrast_structure.flatten(-2).mean(-1)))
            padding = [side % 2 for side in x.shape[-2:]]
            x, y = _halve(x, padding), _halve(y, padding)
        else:
            ssim = mu_xy.mul_(2).add_(C1).div_(mu_xx.add_(mu_yy).add_(C1)).mul_(contrast_structure)
            factors.append(torch.relu(ssim.flatten(-2).mean(-1)))
    return torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1, 1), dim=0).mean(dim=-1)


def msssim_levels_native(
    levels: torch.Tensor, references: torch.Tensor, taps: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    if references.dtype != levels.dtype:
        references = references.to(levels.dtype)
    taps = taps.flatten().to(torch.float64).contiguous()
    weights = weights.to(torch.float64).cpu()
    cs, ssim = native.library().msssim_levels(levels, references, taps, C1, C2, weights.numel())
    factors = torch.relu(torch.cat([cs[:-1], ssim[-1:]]))  # (scales, n, L, C)
    return torch.prod(factors ** weights.view(-1, 1, 1, 1), dim=0).mean(dim=-1)


MSSSIM_LEVELS = {"torch": msssim_levels_torch, "native": msssim_levels_native}


def msssim_levels(
    levels: torch.Tensor,
    references: torch.Tensor,
    taps: torch.Tensor,
    weights: torch.Tensor,
    backend: str = "torch",
) -> torch.Tensor:
    """(n, L) MS-SSIM of each of the L level images (n, L, C, H, W) of an image with that image
    (n, C, H, W), given the Gaussian window's 1-D taps and one weight per scale (float64, summing
    to 1), float64."""
    return implementation(MSSSIM_LEVELS, backend)(levels, references, taps, weights)
