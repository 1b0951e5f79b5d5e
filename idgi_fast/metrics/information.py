"""The information axes of SIC/AIC (SEMANTICS.md §6): compressed size and MS-SSIM."""
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
_msssim_module = importlib.import_module("pytorch_msssim.ssim")

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
    arrays = to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()
    return pool.map(lambda a: _encoded_size(a, image_format, webp_method), arrays)


def compressed_sizes(images: torch.Tensor, image_format: str = "webp", webp_method: int = 4,
                     workers: int | None = None) -> torch.Tensor:
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
        options = [(w, s) for s in range(scales, 0, -1) for w in range(win_size, 2, -2) if side > msssim_min_side(w, s)]
        hint = (f"; for example msssim_win_size={options[0][0]}, msssim_scales={options[0][1]}" if options
                else "; no window of at least 3 fits, use the entropy axis")
        raise ValueError(
            f"images of {height}×{width} are too small for MS-SSIM with a {win_size}-pixel window over {scales} scales: "
            f"the smaller side must exceed (win_size − 1)·2^(scales − 1) = {msssim_min_side(win_size, scales)}. "
            f"Pass a smaller odd msssim_win_size or fewer msssim_scales{hint}"
        )


def ms_ssim(x: torch.Tensor, y: torch.Tensor, win_size: int = 11, scales: int = 5) -> torch.Tensor:
    """MS-SSIM (data_range 1) of each pair of (N, C, H, W) images, (N,) float64, by pytorch-msssim.

    With all 5 scales this is pytorch_msssim.ms_ssim itself. pytorch-msssim checks the image
    size for 5 scales whatever weights it is given, so fewer scales are composed here from its
    per-scale SSIM (the same computation), with the first `scales` weights renormalised to sum 1.
    """
    check_msssim_options(x.shape[-2], x.shape[-1], win_size, scales)
    x, y = x.to(torch.float64), y.to(torch.float64)
    if scales == len(MSSSIM_WEIGHTS):
        return pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, win_size=win_size)
    return composed_ms_ssim(x, y, win_size, scales)


def composed_ms_ssim(x: torch.Tensor, y: torch.Tensor, win_size: int, scales: int) -> torch.Tensor:
    """MS-SSIM over the first `scales` scales from pytorch-msssim's per-scale SSIM (float64 inputs)."""
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float64, device=x.device)
    if scales < len(MSSSIM_WEIGHTS):
        weights = weights / weights.sum()  # pytorch-msssim's five weights sum to 1.0001; kept as they are
    window = _msssim_module._fspecial_gauss_1d(win_size, 1.5).repeat([x.shape[1], 1, 1, 1])
    factors = []
    for scale in range(scales):
        ssim_per_channel, contrast_structure = _msssim_module._ssim(x, y, data_range=1.0, win=window,
                                                                          size_average=False)
        if scale < scales - 1:
            factors.append(torch.relu(contrast_structure))
            padding = [side % 2 for side in x.shape[2:]]
            x = torch.nn.functional.avg_pool2d(x, kernel_size=2, padding=padding)
            y = torch.nn.functional.avg_pool2d(y, kernel_size=2, padding=padding)
    factors.append(torch.relu(ssim_per_channel))
    return torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1), dim=0).mean(dim=1)


def _valid_filter_matrix(window: torch.Tensor, size: int) -> torch.Tensor:
    """(size − k + 1, size) float64 matrix M with M @ v = the valid correlation of v with the k taps."""
    taps = window.flatten().to(torch.float64)
    k = taps.numel()
    shift = torch.arange(size)[None, :] - torch.arange(size - k + 1)[:, None]
    return torch.where((shift >= 0) & (shift < k), taps[shift.clamp(0, k - 1)], 0.0)


class _LocalMean:
    """Separable Gaussian local mean over valid windows, along H then W, as two GEMMs with banded
    matrices; a side shorter than the window is left unfiltered, as pytorch-msssim does.

    The GEMMs do ~20× the multiply-adds of the 11 taps and still win on the CPU: for 26 × 3
    float64 maps of 224×224 one direction took 14 ms, against 72 ms as 11 shifted adds and
    70 ms as blocked GEMMs over unfolded windows (2 cores). pytorch-msssim's float64 depthwise
    convolutions took 1.3 s of its 1.35 s for the 26 levels of one image.
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


def ms_ssim_levels(levels: torch.Tensor, references: torch.Tensor, win_size: int = 11,
                   scales: int = 5) -> torch.Tensor:
    """(n, L) MS-SSIM of each of the L level images (n, L, C, H, W) of an image with that image
    (n, C, H, W): ms_ssim's numbers (the tests pin them to 1e-12), computed for many levels at once.

    The reference image's local statistics are computed once per image and scale, not once per
    level, and the Gaussian filter runs as banded GEMMs (_LocalMean). 26 levels of one 224×224
    image: 0.26 s against 1.35 s for pytorch-msssim (2 cores).
    """
    check_msssim_options(levels.shape[-2], levels.shape[-1], win_size, scales)
    x = levels.to(torch.float64)  # (n, L, C, H, W)
    y = references.to(torch.float64)[:, None]  # (n, 1, C, H, W): broadcast over the levels, never copied
    local_mean = _LocalMean(_msssim_module._fspecial_gauss_1d(win_size, 1.5), x.device)
    weights = torch.tensor(MSSSIM_WEIGHTS[:scales], dtype=torch.float64, device=x.device)
    if scales < len(MSSSIM_WEIGHTS):
        weights = weights / weights.sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
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
            pool = lambda t: torch.nn.functional.avg_pool2d(t.flatten(0, 1), kernel_size=2,  # noqa: E731
                                                            padding=padding).unflatten(0, t.shape[:2])
            x, y = pool(x), pool(y)
        else:
            ssim = mu_xy.mul_(2).add_(c1).div_(mu_xx.add_(mu_yy).add_(c1)).mul_(contrast_structure)
            factors.append(torch.relu(ssim.flatten(-2).mean(-1)))
    return torch.prod(torch.stack(factors) ** weights.view(-1, 1, 1, 1), dim=0).mean(dim=-1)
