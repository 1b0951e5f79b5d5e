"""Insertion and Deletion, batched (docs/semantics.md §6): the oracle's curves from the fast ops."""

from __future__ import annotations

import torch

from ..ops.composite import composite
from ..reference.metrics.common import level_counts, pixel_ranks
from ..reference.metrics.insertion import InsertionCurves, curve_scores, insertion_canvas
from ..utils.profiling import annotate
from ..validation import default_batch_size
from .common import score_targets


def insertion_deletion_batched(
    model,
    images: torch.Tensor,
    saliency: torch.Tensor,
    targets: torch.Tensor,
    modes=("insertion", "deletion"),
    canvas: str = "black",
    sigma: float = 10.0,
    levels: int = 20,
    batch_size: int | None = None,
    backend: str = "torch",
    progress_bar=None,
    graphs: str = "off",
) -> InsertionCurves:
    """The curves of insertion_deletion from the fast ops: every map ranked at once on the
    device, the K + 1 images of several inputs composited in one launch and scored together
    (about batch_size images per model call), probabilities from the rescoring op; graphs:
    score_targets'."""
    batch, _, height, width = images.shape
    ranks = pixel_ranks(saliency)
    counts = torch.tensor(level_counts(height * width, levels), device=images.device)
    # per image, as the reference builds them, so that every metric image is bit-identical
    backgrounds = torch.stack([insertion_canvas(image, canvas, sigma) for image in images])
    original, _ = score_targets(model, images, targets, batch_size, backend, graphs)
    batch_size = batch_size or default_batch_size(images.device, images[0].numel())
    per_call = max(1, batch_size // (levels + 1))
    curves = {mode: [] for mode in modes}
    for start in range(0, batch, per_call):
        rows = slice(start, start + per_call)
        for mode in modes:
            shown, hidden = (
                (images[rows], backgrounds[rows])
                if mode == "insertion"
                else (backgrounds[rows], images[rows])
            )
            with annotate("compositing"):
                stack = composite(shown, hidden, ranks[rows], counts, backend)
            with annotate("forward"):
                found, _ = score_targets(
                    model,
                    stack.flatten(0, 1),
                    targets[rows].repeat_interleave(levels + 1),
                    max(batch_size, levels + 1),
                    backend,
                    graphs,
                )
            curves[mode].append(found.view(-1, levels + 1))
        if progress_bar is not None:
            progress_bar.update(len(range(batch)[rows]))
    original = original.cpu()
    curves = {mode: torch.cat(values).cpu() for mode, values in curves.items()}
    return InsertionCurves(curves, original, {mode: curve_scores(c, original) for mode, c in curves.items()})
