"""MS-SSIM of many level images at once (docs/semantics.md §6): the window and scale weights of
pytorch-msssim, then the msssim_levels op (ops/msssim_levels.py). The window and scales are
checked against the image size at evaluate's door (metrics/request.py), not per call here."""

from __future__ import annotations

import torch

from ..ops.msssim_levels import msssim_levels
from ..reference.metrics.information import MSSSIM_WEIGHTS, msssim_module


def msssim_of_levels(
    levels: torch.Tensor,
    references: torch.Tensor,
    win_size: int = 11,
    scales: int = 5,
    backend: str = "torch",
) -> torch.Tensor:
    """(n, L) MS-SSIM of each of the L level images (n, L, C, H, W) of an image with that image
    (n, C, H, W): msssim's numbers (the tests pin them to 1e-12), for many levels at once; with
    fewer than five scales, the first `scales` weights renormalised to sum 1."""
    taps = msssim_module._fspecial_gauss_1d(win_size, 1.5).flatten().to(torch.float64)
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float64)
    if scales < len(MSSSIM_WEIGHTS):
        weights = weights / weights.sum()
    return msssim_levels(levels, references, taps, weights, backend)
