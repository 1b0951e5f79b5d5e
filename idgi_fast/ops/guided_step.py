"""Guided IG step op (docs/semantics.md §5): one step k for every image at once, in place.

Each image keeps its own state: the lowest-|G| fraction is selected per image (a selection,
not a sort), moved towards its upper bound x_hi, and the inner loop runs until every image
has closed its gap; images that are done stop changing. Path logic in float64.

The jump of features below the lower bound happens only in the first pass of a step: later
passes move features towards x_hi, and rounding is monotone, so no position falls below lo
again and the reference's per-pass jump would change nothing.

Three implementations:
- torch: the reference's arithmetic, vectorised over the images (on the CPU over groups small
  enough to stay in cache); each pass works on the images still moving; bit-identical to the
  reference.
- triton: three fused kernels (kernels/guided_step.py) over the whole batch — the jump, the room
  of the selected features, and the masked update of x, attribution and scores — plus the
  selection: torch.kthvalue per pass (the default, the fastest measured), the radix-select
  kernel (`selection="radix"`), or one sort per step and a gather per pass
  (`selection="sort"`); finished rows are masked off.
  Attribution increments are added pass by pass, so its last bits may differ from the
  reference's (the path itself does not depend on them).
- native: the whole inner loop of each image in C++ (csrc/guided_step.cpp), images in
  parallel, selection by std::nth_element; bit-identical to the torch path.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..utils.profiling import annotate
from . import native
from .backends import implementation
from .launches import declare, launch_block, launch_blocks, pointer

# when the path's current F gap counts as closed: |a − b| ≤ max(c·max(|a|, |b|), c) (docs/semantics.md
# §5); the torch path and the C++ op use this value, the reference keeps its own copy
CLOSENESS = 1e-9


def _isclose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs() <= torch.clamp(CLOSENESS * torch.maximum(a.abs(), b.abs()), min=CLOSENESS)


def selection_rank(n: int, fraction: float) -> int:
    """1-based rank of the threshold: sorted position ⌊fraction·(n − 1)⌋."""
    return math.floor(fraction * (n - 1)) + 1


def selection_threshold_torch(score: torch.Tensor, fraction: float) -> torch.Tensor:
    """(B,) the value at sorted position ⌊fraction·(n − 1)⌋ of each row (+inf entries included).

    On the CPU numpy's introselect is used, about ten times faster than torch.kthvalue there
    (bench/RESULTS.md, "Guided IG selection"). Both return the same element of the row.
    """
    rank = selection_rank(score.shape[1], fraction)
    if score.device.type == "cpu":
        return torch.from_numpy(np.partition(score.numpy(), rank - 1, axis=1)[:, rank - 1].copy())
    return torch.kthvalue(score, rank, dim=1).values


HISTOGRAM_BLOCK = (
    256  # scores a histogram program reads at a time: its (BLOCK, 16) digit match stays in registers
)
# features a program of the jump, room and move kernels takes, and its warps: 8 keep the jump's
# float64 state in at most 128 registers a thread (160 with 4; tests/ops/test_compiled.py)
STEP_BLOCK, STEP_WARPS = 1024, 8


def selection_threshold_triton(
    score: torch.Tensor, fraction: float, block: int = HISTOGRAM_BLOCK, per_split: int = 8192
) -> torch.Tensor:
    """The same threshold by radix select: 16 passes of per-row digit histograms, split over
    many programs per row; choosing each digit is a few (B, 16) tensor ops, with no host sync."""
    import triton

    from ..kernels.guided_step import digit_histogram_kernel

    if score.dtype != torch.float64:
        raise ValueError("the selection kernel orders float64 scores")
    score = score.contiguous()
    rows, n = score.shape
    block = launch_block(n, block)
    per_split = max(block, triton.cdiv(min(per_split, n), block) * block)
    splits = triton.cdiv(n, per_split)
    remaining = torch.full((rows,), selection_rank(n, fraction), dtype=torch.int64, device=score.device)
    prefix = torch.zeros(rows, dtype=torch.int64, device=score.device)
    counts = torch.empty((rows, splits, 16), dtype=torch.int32, device=score.device)
    digits = torch.arange(16, device=score.device)
    for shift in range(60, -1, -4):
        digit_histogram_kernel[(rows, splits)](score, prefix, counts, n, per_split, shift, BLOCK=block)
        histogram = counts.sum(dim=1, dtype=torch.int64)
        chosen = (histogram.cumsum(dim=1) < remaining[:, None]).sum(dim=1)
        remaining -= torch.where(digits[None, :] < chosen[:, None], histogram, 0).sum(dim=1)
        prefix |= chosen << shift
    return prefix.view(torch.float64)


def _bounds(alpha: float, max_dist: float) -> tuple[float, float, float]:
    return alpha, max(alpha - max_dist, 0.0), min(alpha + max_dist, 1.0)


# Elements of state per group of images in the torch path on the CPU: about 2 MB per float64
# array, so a pass's working set stays in cache; the whole batch at once was slower than the
# reference's image-by-image loop (bench/RESULTS.md, "Guided IG selection"). On a GPU groups only
# add launches and host syncs.
GROUP_ELEMENTS = 1 << 18


def guided_step_torch(x, attribution, x_in, x_base, gradient, distance, alpha, fraction, max_dist) -> None:
    alpha, lo, hi = _bounds(alpha, max_dist)
    moving_images = torch.nonzero(distance != 0).flatten()
    group = max(1, GROUP_ELEMENTS // x.shape[1]) if x.device.type == "cpu" else max(1, len(moving_images))
    for start in range(0, len(moving_images), group):
        rows = moving_images[start : start + group]
        _guided_rows_torch(x, attribution, x_in, x_base, gradient, distance, rows, alpha, lo, hi, fraction)


def _guided_rows_torch(
    x, attribution, x_in, x_base, gradient, distance, rows, alpha, lo, hi, fraction
) -> None:
    """Step of the images `rows`, the reference's arithmetic; rows that finish leave the group."""
    first, last = int(rows[0]), int(rows[-1])
    if last - first + 1 == len(rows):  # consecutive images (the usual case): views, not copies
        xs, inputs, base, g = (t[first : last + 1] for t in (x, x_in, x_base, gradient))
    else:
        xs, inputs, base, g = (t[rows] for t in (x, x_in, x_base, gradient))
    span = inputs - base
    x_lo, x_hi = base + span * lo, base + span * hi
    target = distance[rows] * (1.0 - alpha)
    moving = span != 0
    position = torch.where(moving, (xs - base) / torch.where(moving, span, 1.0), hi)
    x_old = xs
    xs = torch.where(position < lo, x_lo, xs)
    magnitude = g.abs()
    added = torch.zeros_like(xs)
    while True:
        current = (xs - inputs).abs().sum(dim=1)
        going = ~_isclose(current, target)
        with annotate("guided selection"):
            score = torch.where(xs == x_hi, math.inf, magnitude)
            threshold = selection_threshold_torch(score, fraction)
            # score ≤ the largest finite double ⇔ score ≤ threshold and finite (scores are ≥ 0, ∞ or NaN)
            selected = score <= threshold.clamp(max=torch.finfo(torch.float64).max)[:, None]
        gap = x_hi - xs
        room = torch.where(selected, gap.abs(), 0.0).sum(dim=1)
        can_move = going & (room > 0)
        gamma = (current - target) / torch.where(can_move, room, 1.0)
        full = gamma > 1
        moved = torch.where(full[:, None], x_hi, xs + gap * gamma[:, None])
        xs = torch.where(can_move[:, None] & selected, moved, xs)
        added += (xs - x_old) * g
        x_old = xs
        going_on = can_move & full
        finished = ~going_on
        if bool(finished.any()):
            done = rows[finished]
            x[done] = xs[finished]
            attribution[done] += added[finished]
            if not bool(going_on.any()):
                return
            keep = torch.nonzero(going_on).flatten()
            rows = rows[keep]
            xs, inputs, g, magnitude, x_hi, added, target = (
                t[keep] for t in (xs, inputs, g, magnitude, x_hi, added, target)
            )
            x_old = xs


def _check_state(**state: torch.Tensor) -> None:
    for name, t in state.items():
        if t.dtype != torch.float64 or not t.is_contiguous():
            raise ValueError(f"{name} must be a contiguous float64 (B, n) tensor for the Guided IG kernels")


def guided_step_triton(
    x,
    attribution,
    x_in,
    x_base,
    gradient,
    distance,
    alpha,
    fraction,
    max_dist,
    block: int = STEP_BLOCK,
    selection: str = "kthvalue",
) -> None:
    """selection: how each pass finds its threshold — "kthvalue" (torch.kthvalue per pass),
    "sort" (one sort per step, then a gather per pass: the same element, see below) or "radix"
    (the radix-select kernel per pass)."""
    import triton

    from ..kernels.guided_step import guided_jump_kernel, guided_move_kernel, guided_room_kernel

    _check_state(x=x, attribution=attribution, x_in=x_in, x_base=x_base, gradient=gradient)
    alpha, lo, hi = _bounds(alpha, max_dist)
    batch, n = x.shape
    block = launch_block(n, block)
    blocks = triton.cdiv(n, block)
    grid = (batch, blocks)
    target = distance * (1.0 - alpha)
    active = distance != 0
    # float64 scalars travel as a tensor: Triton would pass Python floats as float32
    bounds = torch.tensor([lo, hi], dtype=torch.float64, device=x.device)
    score = torch.empty_like(x)
    partial_current = torch.empty((batch, blocks), dtype=torch.float64, device=x.device)
    partial_room = torch.empty_like(partial_current)
    tile = dict(BLOCK=block, num_warps=STEP_WARPS)
    guided_jump_kernel[grid](
        x, attribution, x_in, x_base, gradient, score, partial_current, active, bounds, n, **tile
    )
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    selector = _Selector(selection, score, fraction)
    while bool(active.any()):
        current = partial_current.sum(dim=1)
        going = active & ~_isclose(current, target)
        threshold = selector.threshold(score)
        guided_room_kernel[grid](x, x_in, x_base, score, threshold, partial_room, going, bounds, n, **tile)
        room = partial_room.sum(dim=1)
        can_move = going & (room > 0)
        gamma = (current - target) / torch.where(can_move, room, 1.0)
        full = gamma > 1
        guided_move_kernel[grid](
            x,
            attribution,
            x_in,
            x_base,
            gradient,
            score,
            threshold,
            gamma,
            can_move,
            full,
            partial_current,
            bounds,
            n,
            **tile,
        )
        active = can_move & full
        selector.passed(threshold)


class _Selector:
    """Each pass's threshold: the rank-th smallest score of every row.

    "sort": a row that passes again moved every selected feature (a prefix of its sorted scores,
    ties included) to x_hi, where its score is ∞, so the next pass's rank-th smallest score is
    the one `taken` places further along the same sorted row, or ∞ past its end."""

    def __init__(self, selection: str, score: torch.Tensor, fraction: float):
        self.selection, self.fraction = selection, fraction
        self.n = score.shape[1]
        self.rank = selection_rank(self.n, fraction)
        if selection == "sort":
            with annotate("guided selection"):
                self.ordered = torch.sort(score, dim=1).values
            self.taken = torch.zeros((score.shape[0], 1), dtype=torch.int64, device=score.device)

    def threshold(self, score: torch.Tensor) -> torch.Tensor:
        with annotate("guided selection"):
            if self.selection == "radix":
                return selection_threshold_triton(score, self.fraction)
            if self.selection != "sort":
                return selection_threshold_torch(score, self.fraction)
            position = self.taken + (self.rank - 1)
            found = self.ordered.gather(1, position.clamp(max=self.n - 1)).squeeze(1)
            return torch.where(position.squeeze(1) < self.n, found, math.inf)

    def passed(self, threshold: torch.Tensor) -> None:
        if self.selection == "sort":
            largest = torch.finfo(torch.float64).max
            self.taken = torch.searchsorted(self.ordered, threshold.clamp(max=largest)[:, None], right=True)


SELECTIONS = ("kthvalue", "sort", "radix")


def triton_launches() -> list:
    """Every launch of this op's kernels (ops/launches.py): float64 state, every block
    launch_block takes."""
    from ..kernels.guided_step import (
        digit_histogram_kernel,
        guided_jump_kernel,
        guided_move_kernel,
        guided_room_kernel,
    )

    d = "*fp64"
    launches = []
    for block in launch_blocks(HISTOGRAM_BLOCK):
        launches += declare(
            digit_histogram_kernel,
            score_ptr=d,
            prefix_ptr="*i64",
            counts_ptr="*i32",
            **dict.fromkeys(("n_features", "per_split", "shift"), "i32"),
            BLOCK=block,
        )
    for block in launch_blocks(STEP_BLOCK):
        state = dict.fromkeys(("x_ptr", "x_in_ptr", "x_base_ptr", "score_ptr", "bounds_ptr"), d)
        launches += declare(
            guided_jump_kernel,
            num_warps=STEP_WARPS,
            **state,
            **dict.fromkeys(("attr_ptr", "grad_ptr", "partial_current_ptr"), d),
            active_ptr=pointer(torch.bool),
            n_features="i32",
            BLOCK=block,
        )
        launches += declare(
            guided_room_kernel,
            num_warps=STEP_WARPS,
            **state,
            threshold_ptr=d,
            partial_room_ptr=d,
            going_ptr=pointer(torch.bool),
            n_features="i32",
            BLOCK=block,
        )
        launches += declare(
            guided_move_kernel,
            num_warps=STEP_WARPS,
            **state,
            **dict.fromkeys(("attr_ptr", "grad_ptr", "threshold_ptr", "gamma_ptr", "partial_current_ptr"), d),
            **dict.fromkeys(("can_move_ptr", "full_ptr"), pointer(torch.bool)),
            n_features="i32",
            BLOCK=block,
        )
    return launches


def guided_step_native(x, attribution, x_in, x_base, gradient, distance, alpha, fraction, max_dist) -> None:
    """The whole inner loop of each image in C++ (csrc/guided_step.cpp), images in parallel."""
    alpha, lo, hi = _bounds(alpha, max_dist)
    native.library().guided_step(
        x, attribution, x_in, x_base, gradient, distance, alpha, lo, hi, fraction, CLOSENESS
    )


GUIDED_STEP = {"torch": guided_step_torch, "triton": guided_step_triton, "native": guided_step_native}


def guided_step(
    x: torch.Tensor,
    attribution: torch.Tensor,
    x_in: torch.Tensor,
    x_base: torch.Tensor,
    gradient: torch.Tensor,
    distance: torch.Tensor,
    alpha: float,
    fraction: float,
    max_dist: float,
    backend: str = "torch",
) -> None:
    """One step of every image towards path position `alpha` (α_(k+1): (k + 1)/m, or a
    schedule's), in place: flat (B, n) float64 x and attribution (updated), x_in, x_base,
    gradient G at x; (B,) float64 L1 distances. Images with distance 0 do not move."""
    step = implementation(GUIDED_STEP, backend)
    step(x, attribution, x_in, x_base, gradient, distance, alpha, fraction, max_dist)
