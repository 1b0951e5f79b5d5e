"""Localization against ground-truth masks (docs/semantics.md §6)."""

from __future__ import annotations

import torch


def _check(saliency: torch.Tensor, masks: torch.Tensor) -> None:
    if saliency.ndim != 3:
        raise ValueError(
            f"saliency must be (B, H, W); got shape {tuple(saliency.shape)} (use saliency_map first)"
        )
    if masks.shape != saliency.shape:
        raise ValueError(
            f"masks must match the saliency's shape {tuple(saliency.shape)}; got {tuple(masks.shape)}"
        )


def energy_in_mask(saliency: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Σ_mask max(s, 0) / Σ max(s, 0) per image; 0 for a map with no positive value."""
    _check(saliency, masks)
    positive = saliency.clamp(min=0).flatten(1)
    total = positive.sum(dim=1)
    inside = (positive * masks.flatten(1).to(positive.dtype)).sum(dim=1)
    return torch.where(
        total > 0, inside / torch.where(total > 0, total, torch.ones_like(total)), torch.zeros_like(total)
    )


def pointing_game(saliency: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Whether each map's maximum (the lowest flat index among ties) lies inside its mask."""
    _check(saliency, masks)
    flat = saliency.flatten(1)
    # ties resolved explicitly to the lowest flat index, whatever a backend's argmax does
    hit = flat == flat.max(dim=1, keepdim=True).values
    first = hit.to(torch.int8).argmax(dim=1)
    return masks.flatten(1).gather(1, first.view(-1, 1)).squeeze(1).bool()
