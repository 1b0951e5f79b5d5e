"""Insertion and Deletion (docs/semantics.md §6), one image at a time.

Insertion image k is the canvas with the top ⌊k·H·W/K⌋ pixels copied from the input; the
deletion image is its mirror, the input with those pixels replaced by the canvas. Each curve
is the target's softmax probability over k = 0 … K; its scores are trapezoid areas with
dx = 1/K, of the probability itself and of the probability divided by the input's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...geometry import gaussian_blur
from .common import Scorer, level_counts, pixel_ranks, reveal_stack, trapezoid

CANVASES = ("black", "blur")


def insertion_canvas(image: torch.Tensor, canvas: str, sigma: float) -> torch.Tensor:
    """The canvas for one (C, H, W) image: zeros ("black") or G_σ(image) with zeros padding ("blur")."""
    if canvas == "black":
        return torch.zeros_like(image)
    if canvas == "blur":
        return gaussian_blur(image[None], sigma, padding="zeros")[0]
    raise ValueError(f"canvas must be one of {CANVASES}, got {canvas!r}")


def insertion_images(
    image: torch.Tensor, saliency: torch.Tensor, canvas: torch.Tensor, levels: int
) -> torch.Tensor:
    """(K + 1, C, H, W) insertion images of one image: level 0 is the canvas, level K the input."""
    counts = level_counts(saliency.numel(), levels)
    return reveal_stack(image, canvas, pixel_ranks(saliency), counts)


def deletion_images(
    image: torch.Tensor, saliency: torch.Tensor, canvas: torch.Tensor, levels: int
) -> torch.Tensor:
    """(K + 1, C, H, W) deletion images of one image: level 0 is the input, level K the canvas."""
    counts = level_counts(saliency.numel(), levels)
    return reveal_stack(canvas, image, pixel_ranks(saliency), counts)


def curve_scores(curves: torch.Tensor, original: torch.Tensor) -> dict[str, torch.Tensor]:
    """`probability` and `probability_ratio` areas of (B, K + 1) curves; `original` is p of each input."""
    intervals = curves.shape[-1] - 1
    return {
        "probability": trapezoid(curves, 1.0 / intervals),
        "probability_ratio": trapezoid(curves / original[:, None], 1.0 / intervals),
    }


@dataclass
class InsertionCurves:
    """Probability curves (B, K + 1) of each mode, the input's probability (B,) and their scores."""

    curves: dict[str, torch.Tensor]
    original: torch.Tensor
    scores: dict[str, dict[str, torch.Tensor]]


def insertion_deletion(
    model,
    images: torch.Tensor,
    saliency: torch.Tensor,
    targets: torch.Tensor,
    modes=("insertion", "deletion"),
    canvas: str = "black",
    sigma: float = 10.0,
    levels: int = 20,
    batch_size: int | None = None,
    progress_bar=None,
) -> InsertionCurves:
    """Insertion and/or Deletion curves of every image, one image at a time."""
    build = {"insertion": insertion_images, "deletion": deletion_images}
    score = Scorer(model, batch_size)
    curves = {mode: [] for mode in modes}
    original = []
    for image, saliency_i, target in zip(images, saliency, targets.tolist()):
        background = insertion_canvas(image, canvas, sigma)
        original.append(score(image[None], target)[0])
        for mode in modes:
            curves[mode].append(score(build[mode](image, saliency_i, background, levels), target)[0])
        if progress_bar is not None:
            progress_bar.update(1)
    original = torch.cat(original)
    curves = {mode: torch.stack(values) for mode, values in curves.items()}
    return InsertionCurves(curves, original, {mode: curve_scores(c, original) for mode, c in curves.items()})
