"""Triton kernels of the blur path op (ops/blur_path.py).

With A the 1-D blur at σ, A' at σ + h and D = (A' − A)/h (all sampled taps, zeros or
reflect padding), a point and its forward difference are

    G_σ(x) = A x Aᵀ,        dX = (A' x A'ᵀ − A x Aᵀ)/h = D x A'ᵀ + A x Dᵀ.

The second form never subtracts two nearly equal images. Sums run in ACC (float64, as the
reference) and are rounded once to the model's dtype.
Pass 1 convolves along H (giving A x and D x), pass 2 along W (giving G and dX), each
program one tile of one (point, channel) plane.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _fold(index, size, REFLECT: tl.constexpr):
    """Reflect padding (half-sample symmetric, periodic): any index onto [0, size)."""
    if REFLECT:
        period = 2 * size
        index = ((index % period) + period) % period
        index = tl.where(index >= size, period - 1 - index, index)
    return index


@triton.jit(do_not_specialize=["channels", "tap_width", "max_radius"])
def blur_rows_kernel(
    x_ptr,
    image_ptr,
    radius_ptr,
    taps_a_ptr,
    taps_d_ptr,
    ax_ptr,
    dx_ptr,
    channels,
    height,
    width,
    tap_width,
    max_radius,
    REFLECT: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    """Program (p·C + c, h-block, w-block): a BLOCK_H × BLOCK_W tile of A x and D x (along H) for
    point p, channel c, reading the image plane of the point's image."""
    plane = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    cols = tl.program_id(2) * BLOCK_W + tl.arange(0, BLOCK_W)
    tile_mask = (rows < height)[:, None] & (cols < width)[None, :]
    point = plane // channels
    channel = plane % channels
    image = tl.load(image_ptr + point).to(tl.int64)
    radius = tl.load(radius_ptr + point)
    source = x_ptr + (image * channels + channel) * height * width
    taps = point.to(tl.int64) * tap_width + max_radius
    sum_a = tl.zeros((BLOCK_H, BLOCK_W), dtype=ACC)
    sum_d = tl.zeros((BLOCK_H, BLOCK_W), dtype=ACC)
    first, last = -radius, radius
    # with zeros padding, taps that land outside the image for every row of the tile add nothing
    if not REFLECT:
        first = tl.maximum(first, -(tl.program_id(1) * BLOCK_H + BLOCK_H - 1))
        last = tl.minimum(last, height - 1 - tl.program_id(1) * BLOCK_H)
    for t in range(first, last + 1):
        src = _fold(rows + t, height, REFLECT)
        valid = tile_mask & ((src >= 0) & (src < height))[:, None]
        values = tl.load(source + src[:, None] * width + cols[None, :], mask=valid, other=0.0).to(ACC)
        sum_a += tl.load(taps_a_ptr + taps + t).to(ACC) * values
        sum_d += tl.load(taps_d_ptr + taps + t).to(ACC) * values
    out = plane.to(tl.int64) * height * width + rows[:, None] * width + cols[None, :]
    tl.store(ax_ptr + out, sum_a, mask=tile_mask)
    tl.store(dx_ptr + out, sum_d, mask=tile_mask)


@triton.jit(do_not_specialize=["channels", "tap_width", "max_radius"])
def blur_cols_kernel(
    ax_ptr,
    dx_ptr,
    radius_ptr,
    taps_a_ptr,
    taps_b_ptr,
    taps_d_ptr,
    points_ptr,
    slopes_ptr,
    channels,
    height,
    width,
    tap_width,
    max_radius,
    SLOPES: tl.constexpr,
    REFLECT: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    """Program (p·C + c, h-block, w-block): a tile of G = (A x) Aᵀ and dX = (D x) A'ᵀ + (A x) Dᵀ
    (along W), written straight into the model's input buffer (`points`) and the slope buffer."""
    plane = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    cols = tl.program_id(2) * BLOCK_W + tl.arange(0, BLOCK_W)
    tile_mask = (rows < height)[:, None] & (cols < width)[None, :]
    point = plane // channels
    radius = tl.load(radius_ptr + point)
    base = plane.to(tl.int64) * height * width + rows[:, None] * width
    taps = point.to(tl.int64) * tap_width + max_radius
    blurred = tl.zeros((BLOCK_H, BLOCK_W), dtype=ACC)
    slope = tl.zeros((BLOCK_H, BLOCK_W), dtype=ACC)
    first, last = -radius, radius
    if not REFLECT:
        first = tl.maximum(first, -(tl.program_id(2) * BLOCK_W + BLOCK_W - 1))
        last = tl.minimum(last, width - 1 - tl.program_id(2) * BLOCK_W)
    for t in range(first, last + 1):
        src = _fold(cols + t, width, REFLECT)
        valid = tile_mask & ((src >= 0) & (src < width))[None, :]
        a_values = tl.load(ax_ptr + base + src[None, :], mask=valid, other=0.0)
        blurred += tl.load(taps_a_ptr + taps + t).to(ACC) * a_values
        if SLOPES:
            d_values = tl.load(dx_ptr + base + src[None, :], mask=valid, other=0.0)
            slope += (
                tl.load(taps_b_ptr + taps + t).to(ACC) * d_values
                + tl.load(taps_d_ptr + taps + t).to(ACC) * a_values
            )
    out = base + cols[None, :]
    tl.store(points_ptr + out, blurred.to(points_ptr.dtype.element_ty), mask=tile_mask)
    if SLOPES:
        tl.store(slopes_ptr + out, slope.to(slopes_ptr.dtype.element_ty), mask=tile_mask)
