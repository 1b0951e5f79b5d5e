"""Triton kernels of the Guided IG step op (ops/guided_step.py): the radix-select digit pass and
the fused jump, room and masked-update passes of the inner loop."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit(do_not_specialize=["per_split", "shift"])
def digit_histogram_kernel(
    score_ptr, prefix_ptr, counts_ptr, n_features, per_split, shift, BLOCK: tl.constexpr
):
    """Program (b, s): a 16-bin histogram of bits shift … shift+3 of the float64 scores of row b in
    split s (elements s·per_split … (s+1)·per_split − 1), counting only the elements whose
    higher bits equal prefix[b]'s (bits above 63 are 0 for every score: the top digit counts all).

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
        # one shift compiles for every digit; at the top digit both sides shift by 63 (sign bit 0)
        higher = tl.minimum(shift + 4, 63)
        mask = mask & ((key >> higher) == (prefix >> higher))
        digit = (key >> shift) & 15
        counts += tl.sum(((digit[:, None] == bins[None, :]) & mask[:, None]).to(tl.int32), axis=0)
    tl.store(counts_ptr + (row * tl.num_programs(1) + split) * 16 + bins, counts)


@triton.jit
def _upper_bound(x_in, x_base, hi):
    """x_hi = x' + (x_in − x')·hi, in the order ops/guided_step.py's torch path rounds it."""
    return x_base + (x_in - x_base) * hi


@triton.jit
def _row_flag(flag_ptr, row, offsets):
    """A per-image bool flag broadcast over the block (the interpreter cannot mask with a scalar bool)."""
    return (tl.zeros_like(offsets) + tl.load(flag_ptr + row).to(tl.int32)) != 0


@triton.jit
def guided_jump_kernel(
    x_ptr,
    attr_ptr,
    x_in_ptr,
    x_base_ptr,
    grad_ptr,
    score_ptr,
    partial_current_ptr,
    active_ptr,
    bounds_ptr,
    n_features,
    BLOCK: tl.constexpr,
):
    """Program (b, j), first pass of a Guided IG step, over features j·BLOCK … of image b:

        t = (x − x')/(x_in − x') (hi where x_in = x');  features with t < lo jump to
        x_lo = x' + (x_in − x')·lo;  attr += (x_new − x)·G;  score = ∞ where x_new = x_hi, else |G|;
        partial_current[b, j] = Σ |x_new − x_in|

    Only images with active[b] ≠ 0 (L1 distance ≠ 0) change; scores and partial sums are
    written for every image. bounds = (lo, hi) as float64.
    """
    row = tl.program_id(0).to(tl.int64)
    block = tl.program_id(1)
    offsets = block * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < n_features
    at = row * n_features + offsets
    lo = tl.load(bounds_ptr)
    hi = tl.load(bounds_ptr + 1)
    x = tl.load(x_ptr + at, mask=inside, other=0.0)
    x_in = tl.load(x_in_ptr + at, mask=inside, other=0.0)
    x_base = tl.load(x_base_ptr + at, mask=inside, other=0.0)
    g = tl.load(grad_ptr + at, mask=inside, other=0.0)
    span = x_in - x_base
    moving = span != 0
    position = tl.where(moving, (x - x_base) / tl.where(moving, span, 1.0), hi)
    x_lo = x_base + span * lo
    row_active = _row_flag(active_ptr, row, offsets)
    jump = (position < lo) & row_active
    x_new = tl.where(jump, x_lo, x)
    changed = inside & jump
    tl.store(x_ptr + at, x_new, mask=changed)
    attr = tl.load(attr_ptr + at, mask=changed, other=0.0)
    tl.store(attr_ptr + at, attr + (x_new - x) * g, mask=changed)
    score = tl.where(x_new == _upper_bound(x_in, x_base, hi), float("inf"), tl.abs(g))
    tl.store(score_ptr + at, score, mask=inside)
    tl.store(
        partial_current_ptr + row * tl.num_programs(1) + block,
        tl.sum(tl.where(inside, tl.abs(x_new - x_in), 0.0), axis=0),
    )


@triton.jit
def guided_room_kernel(
    x_ptr,
    x_in_ptr,
    x_base_ptr,
    score_ptr,
    threshold_ptr,
    partial_room_ptr,
    going_ptr,
    bounds_ptr,
    n_features,
    BLOCK: tl.constexpr,
):
    """Program (b, j): partial_room[b, j] = Σ |x − x_hi| over the selected features j·BLOCK … of
    image b, selected = score ≤ threshold[b] and score finite (ties at the threshold all
    selected). Images with going[b] = 0 read nothing and write 0."""
    row = tl.program_id(0).to(tl.int64)
    block = tl.program_id(1)
    offsets = block * BLOCK + tl.arange(0, BLOCK)
    at = row * n_features + offsets
    inside = (offsets < n_features) & _row_flag(going_ptr, row, offsets)
    hi = tl.load(bounds_ptr + 1)
    threshold = tl.load(threshold_ptr + row)
    score = tl.load(score_ptr + at, mask=inside, other=float("inf"))
    selected = inside & (score <= threshold) & (score < float("inf"))
    x = tl.load(x_ptr + at, mask=selected, other=0.0)
    x_in = tl.load(x_in_ptr + at, mask=selected, other=0.0)
    x_base = tl.load(x_base_ptr + at, mask=selected, other=0.0)
    room = tl.where(selected, tl.abs(x - _upper_bound(x_in, x_base, hi)), 0.0)
    tl.store(partial_room_ptr + row * tl.num_programs(1) + block, tl.sum(room, axis=0))


@triton.jit
def guided_move_kernel(
    x_ptr,
    attr_ptr,
    x_in_ptr,
    x_base_ptr,
    grad_ptr,
    score_ptr,
    threshold_ptr,
    gamma_ptr,
    can_move_ptr,
    full_ptr,
    partial_current_ptr,
    bounds_ptr,
    n_features,
    BLOCK: tl.constexpr,
):
    """Program (b, j), one pass of the inner loop, the masked update of image b's features j·BLOCK …:

        selected = score ≤ threshold[b] and finite, only where can_move[b]
        x_new = x_hi if full[b] else x + (x_hi − x)·γ[b]        (selected features; others keep x)
        attr += (x_new − x)·G;  score = ∞ where x_new = x_hi;  partial_current[b, j] = Σ |x_new − x_in|

    Only selected features are written, so each pass costs one read of the image's state.
    """
    row = tl.program_id(0).to(tl.int64)
    block = tl.program_id(1)
    offsets = block * BLOCK + tl.arange(0, BLOCK)
    inside = offsets < n_features
    at = row * n_features + offsets
    hi = tl.load(bounds_ptr + 1)
    threshold = tl.load(threshold_ptr + row)
    gamma = tl.load(gamma_ptr + row)
    can_move = _row_flag(can_move_ptr, row, offsets)
    full = _row_flag(full_ptr, row, offsets)
    score = tl.load(score_ptr + at, mask=inside, other=float("inf"))
    selected = inside & can_move & (score <= threshold) & (score < float("inf"))
    x = tl.load(x_ptr + at, mask=inside, other=0.0)
    x_in = tl.load(x_in_ptr + at, mask=inside, other=0.0)
    x_base = tl.load(x_base_ptr + at, mask=selected, other=0.0)
    x_hi = _upper_bound(x_in, x_base, hi)
    moved = tl.where(full, x_hi, x + (x_hi - x) * gamma)
    x_new = tl.where(selected, moved, x)
    tl.store(x_ptr + at, x_new, mask=selected)
    g = tl.load(grad_ptr + at, mask=selected, other=0.0)
    attr = tl.load(attr_ptr + at, mask=selected, other=0.0)
    tl.store(attr_ptr + at, attr + (x_new - x) * g, mask=selected)
    tl.store(score_ptr + at, tl.where(x_new == x_hi, float("inf"), tl.abs(g)), mask=selected)
    tl.store(
        partial_current_ptr + row * tl.num_programs(1) + block,
        tl.sum(tl.where(inside, tl.abs(x_new - x_in), 0.0), axis=0),
    )
