"""Triton kernels of the accumulate op (ops/accumulate.py)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit(do_not_specialize=["n_blocks"])
def squared_norm_partials_kernel(
    g_ptr, partial_ptr, n_features, n_blocks, ACC: tl.constexpr, BLOCK: tl.constexpr
):
    """Program (p, b): Σ g[p, d]² (in ACC, the inputs' float type) over the b-th block of BLOCK
    features of point p.

    The (N, n_blocks) partial sums are added up by the launcher, in a fixed order, so the
    norms are deterministic (no atomics).
    """
    point = tl.program_id(0)
    block = tl.program_id(1)
    offsets = block * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_features
    g = tl.load(g_ptr + point.to(tl.int64) * n_features + offsets, mask=mask, other=0.0).to(ACC)
    tl.store(partial_ptr + point * n_blocks + block, tl.sum(g * g, axis=0))


@triton.jit(do_not_specialize=["n_counts", "n_images"])
def accumulate_kernel(
    g_ptr,
    multiplier_ptr,
    base_coef_ptr,
    idgi_coef_ptr,
    order_ptr,
    segment_start_ptr,
    base_ptr,
    idgi_ptr,
    n_features,
    n_counts,
    n_images,
    HAS_MULTIPLIER: tl.constexpr,
    HAS_IDGI: tl.constexpr,
    COUNT_TILE: tl.constexpr,
    ACC: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Program (b, j): for the points of image b, over features block j,

        base[c, image, d] += Σ_p base_coef[p, c] · multiplier[p, d] · g[p, d]
        idgi[c, image, d] += Σ_p idgi_coef[p, c] · g[p, d]²

    for every count c, COUNT_TILE counts at a time, summed in ACC (the inputs' float type) over
    the segment's points in order, so every element's sum is the same whatever the tile. Each
    accumulator element is read and written once per chunk; g is read from memory once and from
    cache for the further count tiles: a thread keeps COUNT_TILE × BLOCK / threads sums of each
    accumulator, not one per count. Image b's points are order[segment_start[b] :
    segment_start[b + 1]]; an image without points in the chunk reads and writes nothing.
    """
    image = tl.program_id(0).to(tl.int64)
    block = tl.program_id(1)
    offsets = block * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n_features
    first = tl.load(segment_start_ptr + image)
    last = tl.load(segment_start_ptr + image + 1)
    # an image absent from this chunk leaves its accumulators untouched
    filled = offsets < tl.where(last > first, n_features, 0)
    for tile in range(0, n_counts, COUNT_TILE):
        counts = tile + tl.arange(0, COUNT_TILE)
        count_mask = counts < n_counts
        base_sum = tl.zeros((COUNT_TILE, BLOCK), dtype=ACC)
        idgi_sum = tl.zeros((COUNT_TILE, BLOCK), dtype=ACC)
        for q in range(first, last):
            point = tl.load(order_ptr + q).to(tl.int64)
            g = tl.load(g_ptr + point * n_features + offsets, mask=mask, other=0.0).to(ACC)
            weighted = g
            if HAS_MULTIPLIER:
                weighted = g * tl.load(
                    multiplier_ptr + point * n_features + offsets, mask=mask, other=0.0
                ).to(ACC)
            coef = tl.load(base_coef_ptr + point * n_counts + counts, mask=count_mask, other=0.0).to(ACC)
            base_sum += coef[:, None] * weighted[None, :]
            if HAS_IDGI:
                scale = tl.load(idgi_coef_ptr + point * n_counts + counts, mask=count_mask, other=0.0).to(ACC)
                idgi_sum += scale[:, None] * (g * g)[None, :]
        rows = (counts.to(tl.int64)[:, None] * n_images + image) * n_features
        where = rows + offsets[None, :]
        both = count_mask[:, None] & filled[None, :]
        old = tl.load(base_ptr + where, mask=both, other=0.0)
        tl.store(base_ptr + where, (old.to(ACC) + base_sum).to(old.dtype), mask=both)
        if HAS_IDGI:
            old = tl.load(idgi_ptr + where, mask=both, other=0.0)
            tl.store(idgi_ptr + where, (old.to(ACC) + idgi_sum).to(old.dtype), mask=both)
