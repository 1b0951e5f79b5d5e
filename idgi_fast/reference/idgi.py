"""IDGI (docs/semantics.md §2) from a path's gradients and outputs, baseline → input order."""

from __future__ import annotations

import torch


def idgi_from_path(gradients: list[torch.Tensor], outputs: torch.Tensor) -> torch.Tensor:
    """Σ_j g_j ⊙ g_j · (F_{j+1} − F_j) / Σ_image(g_j ⊙ g_j), j = 0…n−1.

    gradients: n tensors (B, …) at p_0…p_{n−1}; outputs: (B, n + 1) F at p_0…p_n.
    A step whose Σ g² is zero or not finite contributes nothing.
    """
    n = len(gradients)
    if outputs.shape[1] != n + 1:
        raise ValueError(f"IDGI needs n + 1 = {n + 1} outputs for {n} gradients, got {outputs.shape[1]}")
    attribution = torch.zeros_like(gradients[0])
    for j, g in enumerate(gradients):
        squared = g * g
        norm = squared.flatten(1).sum(dim=1)
        delta = outputs[:, j + 1] - outputs[:, j]
        usable = torch.isfinite(norm) & (norm > 0)
        scale = torch.where(
            usable, delta / torch.where(usable, norm, torch.ones_like(norm)), torch.zeros_like(norm)
        )
        shape = (-1,) + (1,) * (g.ndim - 1)
        contribution = squared * scale.view(shape)
        attribution += torch.where(usable.view(shape), contribution, torch.zeros_like(contribution))
    return attribution
