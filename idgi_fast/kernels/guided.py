"""Triton kernel of the Guided IG step op (ops/guided_step.py): one digit pass of a radix select."""
from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def digit_histogram_kernel(score_ptr, prefix_ptr, counts_ptr, n_features, per_split, SHIFT: tl.constexpr,
                           BLOCK: tl.constexpr):
    """Program (b, s): a 16-bin histogram of bits SHIFT … SHIFT+3 of the float64 scores of row b in
    split s (elements s·per_split … (s+1)·per_split − 1), counting only the elements whose
    higher bits equal prefix[b]'s.

    Scores are ≥ 0 (+inf allowed), so their bit patterns order like their values; 16 such
    passes, from the top digit down, find the rank-th smallest score of every row without a
    sort. counts is (B, splits, 16) int32, summed over splits by the launcher.
    """
    row = tl.program_id(0).to(tl.int64)
    split = tl.program_id(1)
    bins = tl.arange(0, 16)
    prefix = tl.load(prefix_ptr + row)
    counts = tl.zeros((16,), dtype=tl.int32)
    start = split * per_split
    stop = tl.minimum(start + per_split, n_features)
    for offset in range(start, stop, BLOCK):
        offsets = offset + tl.arange(0, BLOCK)
        mask = offsets < stop
        key = tl.load(score_ptr + row * n_features + offsets, mask=mask, other=0.0).to(tl.int64, bitcast=True)
        if SHIFT < 60:
            mask = mask & ((key >> (SHIFT + 4)) == (prefix >> (SHIFT + 4)))
        digit = (key >> SHIFT) & 15
        counts += tl.sum(((digit[:, None] == bins[None, :]) & mask[:, None]).to(tl.int32), axis=0)
    tl.store(counts_ptr + (row * tl.num_programs(1) + split) * 16 + bins, counts)
