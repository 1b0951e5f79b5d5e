"""Saliency maps (B, H, W) from attributions (B, C, H, W) (docs/semantics.md §6)."""

from __future__ import annotations

import torch

REDUCTIONS = ("sum", "abs_sum", "sum_abs")


def saliency_map(attribution: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
    """Channel reduction: "sum" (signed Σ_c), "abs_sum" (|Σ_c|) or "sum_abs" (Σ_c |·|)."""
    if not isinstance(attribution, torch.Tensor) or attribution.ndim != 4:
        shape = (
            tuple(attribution.shape) if isinstance(attribution, torch.Tensor) else type(attribution).__name__
        )
        raise ValueError(f"attribution must be a (B, C, H, W) tensor, got {shape}")
    if reduce == "sum":
        return attribution.sum(dim=1)
    if reduce == "abs_sum":
        return attribution.sum(dim=1).abs()
    if reduce == "sum_abs":
        return attribution.abs().sum(dim=1)
    raise ValueError(f"reduce must be one of {REDUCTIONS}, got {reduce!r}")
