"""Blur path op: for a chunk of points (image, σ), the path point G_σ(x) and the forward
difference dX_σ = (G_{σ+h}(x) − G_σ(x)) / h (docs/semantics.md §4).

The torch implementation blurs with the (size × size) float64 blur matrices of
the geometry module, once per distinct σ of the chunk, and rounds once to the images' dtype, as
the reference does. The Triton kernel convolves directly with the sampled taps. The native op
(csrc/blur_path.cpp) multiplies by the same matrices but visits only each row's band of 2r + 1
taps; for wide kernels the dense float64 GEMM is faster, so the native backend takes the band
path only for σ whose taps cover at most BANDED_UP_TO of the image's side (bench/RESULTS.md).
"""

from __future__ import annotations

import itertools

import torch

from ..geometry import blur_matrix, gaussian_radius, gaussian_weights
from . import native
from .backends import implementation
from .launches import declare, pointer

# The share of a side that 2r + 1 taps may cover for the band path to beat the dense GEMM (2 CPU
# cores, 3×224², crossover between σ = 10 and σ = 14, i.e. 2r + 1 ≈ 0.37–0.5 of the side).
BANDED_UP_TO = 0.45


def sigma_runs(sigmas: torch.Tensor):
    """(σ, rows) for each run of equal σ: the engine's step-major chunks hold one run per path
    index, so each run is a slice of the chunk, not a gather."""
    values, lengths = torch.unique_consecutive(sigmas, return_counts=True)
    start = 0
    for sigma, length in zip(values.tolist(), lengths.tolist()):
        yield sigma, slice(start, start + length)
        start += length


def blur_path_torch(
    images: torch.Tensor, sigmas: torch.Tensor, grad_step: float, padding: str, slopes: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """images (N, C, H, W) — one per point; sigmas (N,) float64 → points and dX (or None), images' dtype."""
    height, width = images.shape[-2:]
    points = torch.empty_like(images)
    differences = torch.empty_like(images) if slopes else None
    for sigma, rows in sigma_runs(sigmas):
        x64 = images[rows].to(torch.float64)

        def blur(s: float) -> torch.Tensor:
            if gaussian_radius(s) == 0:  # the identity kernel
                return x64
            a_h = blur_matrix(s, height, padding).to(images.device)
            a_w = a_h if width == height else blur_matrix(s, width, padding).to(images.device)
            return torch.matmul(torch.matmul(a_h, x64), a_w.transpose(0, 1))

        blurred = blur(sigma)
        points[rows] = blurred
        if differences is not None:
            differences[rows] = (blur(sigma + grad_step) - blurred) / grad_step
    return points, differences


def blur_path_native(
    images: torch.Tensor, sigmas: torch.Tensor, grad_step: float, padding: str, slopes: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """blur_path_torch's contract; runs of narrow kernels through the band op, the rest (and the
    identity, σ of radius 0) through the torch implementation."""
    height, width = images.shape[-2:]
    points = torch.empty_like(images)
    differences = torch.empty_like(images) if slopes else None
    for sigma, rows in sigma_runs(sigmas):
        length = rows.stop - rows.start
        widest = gaussian_radius(sigma + grad_step if slopes else sigma)
        if gaussian_radius(sigma) == 0 or 2 * widest + 1 > BANDED_UP_TO * min(height, width):
            found = blur_path_torch(images[rows], sigmas[rows], grad_step, padding, slopes)
        else:
            levels = [sigma, sigma + grad_step] if slopes else [sigma]
            along_h = torch.stack([blur_matrix(s, height, padding) for s in levels])
            along_w = (
                along_h if width == height else torch.stack([blur_matrix(s, width, padding) for s in levels])
            )
            first = torch.zeros(length, dtype=torch.int64)
            second = torch.full((length,), 1 if slopes else -1, dtype=torch.int64)
            found = native.library().blur_path(images[rows], along_h, along_w, first, second, grad_step)
        points[rows] = found[0]
        if differences is not None:
            differences[rows] = found[1]
    return points, differences


def blur_taps(sigmas: torch.Tensor, grad_step: float):
    """Per point: radius max(r(σ), r(σ + h)) and the taps of A (σ), A' (σ + h) and D = (A' − A)/h,
    centred in rows of a common width 2·max_radius + 1 (float64, zero outside each support)."""
    radii, rows = [], []
    for sigma in sigmas.tolist():
        a, b = gaussian_weights(sigma), gaussian_weights(sigma + grad_step)
        radius = max(len(a), len(b)) // 2
        pad = lambda w: torch.nn.functional.pad(w, (radius - len(w) // 2, radius - len(w) // 2))  # noqa: E731
        radii.append(radius)
        rows.append((pad(a), pad(b)))
    max_radius = max(radii)
    table = torch.zeros((3, len(rows), 2 * max_radius + 1), dtype=torch.float64)
    for i, (a, b) in enumerate(rows):
        start = max_radius - radii[i]
        table[0, i, start : start + len(a)] = a
        table[1, i, start : start + len(b)] = b
    table[2] = (table[1] - table[0]) / grad_step
    return torch.tensor(radii, dtype=torch.int32), table, max_radius


def blur_path_triton(images, sigmas, grad_step, padding, slopes=True, **tiles):
    radii, table, max_radius = blur_taps(sigmas.cpu(), grad_step)
    device = images.device
    return blur_path_triton_taps(
        images,
        radii.to(device),
        table.to(device=device, dtype=torch.float64),
        max_radius,
        padding,
        slopes,
        **tiles,
    )


# (BLOCK_H, BLOCK_W, num_warps) of both blur kernels: 8 warps keep a thread's float64 sums of the
# column pass in at most 128 registers (160 with 4 warps; tests/ops/test_compiled.py)
BLUR_TILE = (16, 64, 8)


def blur_path_triton_taps(
    images,
    radii,
    table,
    max_radius: int,
    padding,
    slopes=True,
    block_h: int = BLUR_TILE[0],
    block_w: int = BLUR_TILE[1],
    num_warps: int = BLUR_TILE[2],
):
    """blur_path_triton with each point's taps given (blur_taps' radii and table, on the device):
    no host work, so a CUDA graph can capture it (engine/stream.py's fixed-shape chunks)."""
    import triton
    import triton.language as tl

    from ..kernels.blur_path import blur_cols_kernel, blur_rows_kernel

    if padding not in ("zeros", "reflect"):
        raise ValueError(f"padding must be 'zeros' or 'reflect', got {padding!r}")
    n_points, channels, height, width = images.shape
    device = images.device
    # float64 sums rounded once, as the reference: IDGI divides differences of F between
    # neighbouring blur levels, which float32 rounding of the points would visibly move
    acc_dtype = torch.float64
    source = images.contiguous()
    rows = torch.arange(n_points, device=device)  # each point blurs its own image plane
    along_h = torch.empty((n_points, channels, height, width), dtype=acc_dtype, device=device)
    diff_h = torch.empty_like(along_h)
    points = torch.empty_like(source)
    differences = torch.empty_like(source) if slopes else points
    grid = (n_points * channels, triton.cdiv(height, block_h), triton.cdiv(width, block_w))
    acc = tl.float64
    reflect = padding == "reflect"
    tap_width = table.shape[-1]
    blur_rows_kernel[grid](
        source,
        rows,
        radii,
        table[0],
        table[2],
        along_h,
        diff_h,
        channels,
        height,
        width,
        tap_width,
        max_radius,
        REFLECT=reflect,
        ACC=acc,
        BLOCK_H=block_h,
        BLOCK_W=block_w,
        num_warps=num_warps,
    )
    blur_cols_kernel[grid](
        along_h,
        diff_h,
        radii,
        table[0],
        table[1],
        table[2],
        points,
        differences,
        channels,
        height,
        width,
        tap_width,
        max_radius,
        SLOPES=slopes,
        REFLECT=reflect,
        ACC=acc,
        BLOCK_H=block_h,
        BLOCK_W=block_w,
        num_warps=num_warps,
    )
    return points, (differences if slopes else None)


def triton_launches() -> list:
    """Every launch of this op's kernels (ops/launches.py): both float types of the images, both
    paddings, with and without slopes."""
    import triton.language as tl

    from ..kernels.blur_path import blur_cols_kernel, blur_rows_kernel

    block_h, block_w, warps = BLUR_TILE
    sizes = dict.fromkeys(("channels", "height", "width", "tap_width", "max_radius"), "i32")
    launches = []
    for dtype, reflect in itertools.product((torch.float32, torch.float64), (False, True)):
        p = pointer(dtype)
        launches += declare(
            blur_rows_kernel,
            num_warps=warps,
            x_ptr=p,
            image_ptr="*i64",
            radius_ptr="*i32",
            **dict.fromkeys(("taps_a_ptr", "taps_d_ptr", "ax_ptr", "dx_ptr"), "*fp64"),
            **sizes,
            REFLECT=reflect,
            ACC=tl.float64,
            BLOCK_H=block_h,
            BLOCK_W=block_w,
        )
        for slopes in (False, True):
            launches += declare(
                blur_cols_kernel,
                num_warps=warps,
                **dict.fromkeys(("ax_ptr", "dx_ptr"), "*fp64"),
                radius_ptr="*i32",
                **dict.fromkeys(("taps_a_ptr", "taps_b_ptr", "taps_d_ptr"), "*fp64"),
                points_ptr=p,
                slopes_ptr=p,
                **sizes,
                SLOPES=slopes,
                REFLECT=reflect,
                ACC=tl.float64,
                BLOCK_H=block_h,
                BLOCK_W=block_w,
            )
    return launches


BLUR_PATH = {"torch": blur_path_torch, "triton": blur_path_triton, "native": blur_path_native}


def blur_path(
    images: torch.Tensor,
    sigmas: torch.Tensor,
    grad_step: float,
    padding: str,
    slopes: bool = True,
    backend: str = "torch",
):
    return implementation(BLUR_PATH, backend)(images, sigmas, grad_step, padding, slopes)
