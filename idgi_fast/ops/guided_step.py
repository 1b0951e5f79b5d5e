"""Guided IG step op (SEMANTICS.md §5): one step k for every image at once.

Each image keeps its own state: the lowest-|G| fraction is selected per image (a selection,
not a sort), moved towards its upper bound x_hi, and the inner loop runs until every image
has closed its gap; images that are done stop changing. Path logic in float64.
"""
from __future__ import annotations

import math

import torch

from ..profiling import annotate
from .dispatch import check_backend


def _isclose(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs() <= torch.clamp(1e-9 * torch.maximum(a.abs(), b.abs()), min=1e-9)


def selection_threshold_torch(score: torch.Tensor, fraction: float) -> torch.Tensor:
    """(B,) the value at sorted position ⌊fraction·(n − 1)⌋ of each row (+inf entries included)."""
    rank = math.floor(fraction * (score.shape[1] - 1)) + 1  # kthvalue counts from 1
    return torch.kthvalue(score, rank, dim=1).values


def selection_threshold_triton(score: torch.Tensor, fraction: float, block: int = 1024,
                               per_split: int = 8192) -> torch.Tensor:
    """The same threshold by radix select: 16 passes of per-row digit histograms, split over
    many programs per row; choosing each digit is a few (B, 16) tensor ops, with no host sync."""
    import triton

    from ..kernels.guided import digit_histogram_kernel

    if score.dtype != torch.float64:
        raise ValueError("the selection kernel orders float64 scores")
    score = score.contiguous()
    rows, n = score.shape
    block = min(block, max(16, triton.next_power_of_2(n)))
    per_split = max(block, triton.cdiv(min(per_split, n), block) * block)
    splits = triton.cdiv(n, per_split)
    remaining = torch.full((rows,), math.floor(fraction * (n - 1)) + 1, dtype=torch.int64, device=score.device)
    prefix = torch.zeros(rows, dtype=torch.int64, device=score.device)
    counts = torch.empty((rows, splits, 16), dtype=torch.int32, device=score.device)
    digits = torch.arange(16, device=score.device)
    for shift in range(60, -1, -4):
        digit_histogram_kernel[(rows, splits)](score, prefix, counts, n, per_split, SHIFT=shift, BLOCK=block)
        histogram = counts.sum(dim=1, dtype=torch.int64)
        chosen = (histogram.cumsum(dim=1) < remaining[:, None]).sum(dim=1)
        remaining -= torch.where(digits[None, :] < chosen[:, None], histogram, 0).sum(dim=1)
        prefix |= chosen << shift
    return prefix.view(torch.float64)


def guided_step(x: torch.Tensor, x_in: torch.Tensor, x_base: torch.Tensor, gradient: torch.Tensor,
                distance: torch.Tensor, k: int, steps: int, fraction: float, max_dist: float,
                backend: str = "torch") -> tuple[torch.Tensor, torch.Tensor]:
    """Flat (B, n) float64 x, x_in, x_base, gradient; (B,) distances → (new x, attribution added).

    Images with distance 0 do not move. The only backend-specific part is the per-image
    selection threshold (a histogram select in Triton, kthvalue in torch).
    """
    threshold_of = selection_threshold_triton if check_backend(backend, x) == "triton" else selection_threshold_torch
    alpha = (k + 1) / steps
    lo, hi = max(alpha - max_dist, 0.0), min(alpha + max_dist, 1.0)
    span = x_in - x_base
    x_lo, x_hi = x_base + span * lo, x_base + span * hi
    target = distance * (1.0 - alpha)
    magnitude = gradient.abs()
    moving = span != 0
    safe_span = torch.where(moving, span, torch.ones_like(span))
    infinity = torch.full_like(magnitude, math.inf)
    added = torch.zeros_like(x)
    active = distance != 0
    while bool(active.any()):
        x_old = x
        position = torch.where(moving, (x - x_base) / safe_span, torch.full_like(x, hi))
        x = torch.where(active[:, None] & (position < lo), x_lo, x)
        current = (x - x_in).abs().sum(dim=1)
        going = active & ~_isclose(current, target)
        with annotate("guided selection"):
            score = torch.where(x == x_hi, infinity, magnitude)
            threshold = threshold_of(score, fraction)
            selected = (score <= threshold[:, None]) & torch.isfinite(score)
        room = torch.where(selected, (x - x_hi).abs(), 0.0).sum(dim=1)
        can_move = going & (room > 0)
        gamma = (current - target) / torch.where(can_move, room, 1.0)
        full = gamma > 1
        moved = torch.where(full[:, None], x_hi, x + (x_hi - x) * gamma[:, None])
        x = torch.where(can_move[:, None] & selected, moved, x)
        added += torch.where(active[:, None], (x - x_old) * gradient, 0.0)
        active = can_move & full
    return x, added
