"""Triton kernel of the composite op (ops/composite.py)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit(do_not_specialize=["n_channels", "n_levels"])
def composite_kernel(
    shown_ptr, hidden_ptr, ranks_ptr, counts_ptr, out_ptr, n_channels, n_pixels, n_levels, BLOCK: tl.constexpr
):
    """Program (i, l, j): metric image l of image i over pixels j·BLOCK … (j + 1)·BLOCK − 1,

        out[i, l, c, p] = shown[i, c, p] if ranks[i, p] < counts[l] else hidden[i, c, p]   (every channel c)

    A pixel's rank is read once for all channels, and each channel value is read from the one
    image it comes from (the other load is masked off), so a level costs one read of the pixels
    it shows and one write.
    """
    image = tl.program_id(0).to(tl.int64)
    level = tl.program_id(1)
    block = tl.program_id(2)
    offsets = block * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < n_pixels
    rank = tl.load(ranks_ptr + image * n_pixels + offsets, mask=inside, other=0)
    show = rank < tl.load(counts_ptr + level)
    for channel in range(n_channels):
        source = (image * n_channels + channel) * n_pixels + offsets
        front = tl.load(shown_ptr + source, mask=inside & show)
        back = tl.load(hidden_ptr + source, mask=inside & ~show)
        target = ((image * n_levels + level) * n_channels + channel) * n_pixels + offsets
        tl.store(out_ptr + target, tl.where(show, front, back), mask=inside)
