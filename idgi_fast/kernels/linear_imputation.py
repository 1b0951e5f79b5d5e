"""Triton kernel of the linear imputation op (ops/linear_imputation.py)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def masked_stencil_kernel(
    v_ptr,
    rhs_ptr,
    unknown_ptr,
    diagonal_ptr,
    out_ptr,
    height,
    width,
    damping,
    JACOBI: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_W: tl.constexpr,
):
    """Program (n, i, j): the (BLOCK_H, BLOCK_W) tile (i, j) of plane n of (N, H, W) float64 planes,

        (A·v)[y, x] = u[y, x] · (d[y, x]·v[y, x] − Σ_edge v/6 − Σ_diagonal v/12),

    neighbours outside the plane reading 0, u the plane's 0/1 unknown mask, d (H, W) the sum of
    the in-plane neighbours' weights. JACOBI writes one damped Jacobi sweep instead,
    v + damping·u/d·(rhs − A·v). One pass reads v's tile and its one-pixel halo once; the torch
    formulation reads v nine times through shifted views and writes five temporaries.
    """
    plane = tl.program_id(0).to(tl.int64)
    rows = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)[:, None]
    cols = tl.program_id(2) * BLOCK_W + tl.arange(0, BLOCK_W)[None, :]
    inside = (rows < height) & (cols < width)
    base = plane * height * width
    up, down, left, right = rows > 0, rows + 1 < height, cols > 0, cols + 1 < width
    here = v_ptr + base + rows * width + cols
    centre = tl.load(here, mask=inside, other=0.0)
    edge = tl.load(here - 1, mask=inside & left, other=0.0) + tl.load(
        here + 1, mask=inside & right, other=0.0
    )
    edge += tl.load(here - width, mask=inside & up, other=0.0)
    edge += tl.load(here + width, mask=inside & down, other=0.0)
    corner = tl.load(here - width - 1, mask=inside & up & left, other=0.0)
    corner += tl.load(here - width + 1, mask=inside & up & right, other=0.0)
    corner += tl.load(here + width - 1, mask=inside & down & left, other=0.0)
    corner += tl.load(here + width + 1, mask=inside & down & right, other=0.0)
    unknown = tl.load(unknown_ptr + base + rows * width + cols, mask=inside, other=0.0)
    diagonal = tl.load(diagonal_ptr + rows * width + cols, mask=inside, other=1.0)
    product = unknown * (diagonal * centre - edge / 6.0 - corner / 12.0)
    if JACOBI:
        rhs = tl.load(rhs_ptr + base + rows * width + cols, mask=inside, other=0.0)
        product = centre + damping * unknown / diagonal * (rhs - product)
    tl.store(out_ptr + base + rows * width + cols, product, mask=inside)
