"""The information axes of SIC/AIC (docs/semantics.md §6): compressed size and MS-SSIM by
pytorch-msssim, one image's levels at a time."""

from __future__ import annotations

import importlib
import io
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytorch_msssim
import torch
from PIL import Image

from .common import to_uint8

# the module, not the function of the same name that the package exports
msssim_module = importlib.import_module("pytorch_msssim.ssim")

ENTROPY_FORMATS = ("webp", "png")

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # pytorch-msssim's, finest scale first


def _encoded_size(array: np.ndarray, image_format: str, webp_method: int) -> int:
    buffer = io.BytesIO()
    image = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if image_format == "webp":
        image.save(buffer, format="WEBP", lossless=True, quality=100, method=webp_method)
    else:
        image.save(buffer, format="PNG")
    return buffer.tell()


def check_entropy_options(image_format: str, webp_method: int, channels: int) -> None:
    if image_format not in ENTROPY_FORMATS:
        raise ValueError(f"entropy_format must be one of {ENTROPY_FORMATS}, got {image_format!r}")
    if isinstance(webp_method, bool) or not isinstance(webp_method, int) or not 0 <= webp_method <= 6:
        raise ValueError(f"webp_method must be an int in 0 … 6 (encoder effort), got {webp_method!r}")
    if channels not in (1, 3):
        raise ValueError(f"the entropy axis encodes 1- or 3-channel images; got {channels} channels")


def encode_sizes(images: torch.Tensor, image_format: str, webp_method: int, pool: ThreadPoolExecutor):
    """Start encoding every (C, H, W) image of `images` on `pool` now; returns an iterator of the
    byte counts (in order) that blocks only when it is read."""
    return encode_pixel_sizes(
        to_uint8(images).permute(0, 2, 3, 1).cpu().numpy(), image_format, webp_method, pool
    )


def encode_pixel_sizes(pixels: np.ndarray, image_format: str, webp_method: int, pool: ThreadPoolExecutor):
    """encode_sizes of images already quantised: (N, H, W, C) uint8."""
    return pool.map(lambda a: _encoded_size(a, image_format, webp_method), pixels)


def compressed_sizes(
    images: torch.Tensor, image_format: str = "webp", webp_method: int = 4, workers: int | None = None
) -> torch.Tensor:
    """Bytes of each (C, H, W) image in [0, 1], as uint8, losslessly compressed: (N,) int64.

    WebP is lossless at quality 100; `webp_method` is the encoder's effort, 0 (fast) … 6, and
    Pillow's default 4 is what the PAIR library gets. Images are encoded on a pool of `workers`
    threads (default: one per CPU; Pillow's encoders release the GIL).
    """
    check_entropy_options(image_format, webp_method, images.shape[1])
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        sizes = list(encode_sizes(images, image_format, webp_method, pool))
    return torch.tensor(sizes, dtype=torch.int64)


def msssim_min_side(win_size: int, scales: int) -> int:
    """Smallest image side (exclusive) for which MS-SSIM's last scale still fits one window."""
    return (win_size - 1) * 2 ** (scales - 1)


def check_msssim_options(height: int, width: int, win_size: object, scales: object) -> None:
    if isinstance(win_size, bool) or not isinstance(win_size, int) or win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"msssim_win_size must be an odd int ≥ 3, got {win_size!r}")
    if isinstance(scales, bool) or not isinstance(scales, int) or not 1 <= scales <= len(MSSSIM_WEIGHTS):
        raise ValueError(f"msssim_scales must be an int in 1 … {len(MSSSIM_WEIGHTS)}, got {scales!r}")
    side = min(height, width)
    if side <= msssim_min_side(win_size, scales):
        options = [
            (w, s)
            for s in range(scales, 0, -1)
            for w in range(win_size, 2, -2)
            if side > msssim_min_side(w, s)
        ]
        hint = (
            f"; for example msssim_win_size={options[0][0]}, msssim_scales={options[0][1]}"
            if options
            else "; no window of at least 3 fits, use the entropy axis"
        )
        raise ValueError(
            f"images of {height}×{width} are too small for MS-SSIM with a {win_size}-pixel window over "
            f"{scales} scales: "
            "the smaller side must exceed (win_size − 1)·2^(scales − 1) = "
            f"{msssim_min_side(win_size, scales)}. "
            f"Pass a smaller odd msssim_win_size or fewer msssim_scales{hint}"
        )


def msssim(x: torch.Tensor, y: torch.Tensor, win_size: int = 11, scales: int = 5) -> torch.Tensor:
    """MS-SSIM (data_range 1) of each pair of (N, C, H, W) images, (N,) float64, by pytorch-msssim.

    With all 5 scales this is pytorch_msssim.ms_ssim itself. pytorch-msssim checks the image
    size for 5 scales whatever weights it is given, so fewer scales are composed here from its
    per-scale SSIM (the same computation), with the first `scales` weights renormalised to sum 1.
    """
    check_msssim_options(x.shape[-2], x.shape[-1], win_size, scales)
    x, y = x.to(torch.float64), y.to(torch.float64)
    if scales == len(MSSSIM_WEIGHTS):
        return pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, win_size=win_size)
    return composed_msssim(x, y, win_size, scales)


def composed_msssim(x: torch.Tensor, y: torch.Tensor, win_size: int, scales: int) -> torch.Tensor:
    """MS-SSIM over the first `scales` scales from pytorch-msssim's per-scale SSIM (float64 inputs)."""
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float64, device=x.device)
    if scales < len(MSSSIM_WEIGHTS):
        weights = weights / weights.sum()  # pytorch-msssim's five weights sum to 1.0001; kept as they are
    window = msssim_module._fspecial_gauss_1d(win_size, 1.5).repeat([x.shape[1], 1, 1, 1])
    factors = []
    for scale in range(scales):
        ssim_per_channel, contrast_structure = msssim_module._ssim(
            x, y, data_range=1.0, win=window, size_average=False
        )
        if scale < scales - 1:
            factors.append(torch.relu(contrast_structure))
            padding = [side % 2 for side in x.shape[2:]]
            x = torch.nn.functional.avg_pool2d(x, kernel_size=2, padding=padding)
            y = torch.nn.functional.avg_pool2d(y, kernel_size=2, padding=padding)
    factors.append(torch.relu(ssim_per_channel))
    return torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1), dim=0).mean(dim=1)
