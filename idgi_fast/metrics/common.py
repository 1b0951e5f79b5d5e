"""What the fast metrics add to the oracle's shared pieces (docs/semantics.md §6): the level
counts' check and scoring many images with one target each through the rescoring op."""

from __future__ import annotations

import torch

from ..ops.target_probabilities import target_probabilities
from ..outputs import check_logits
from ..runtime.graphs import CACHE, StaticCall
from ..runtime.precision import full_float32
from ..utils.profiling import annotate
from ..validation import default_batch_size


def check_levels(levels: object, name: str) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"{name} must be an int ≥ 2 (a curve needs at least two points), got {levels!r}")
    return levels


def score_targets(
    model,
    images: torch.Tensor,
    targets: torch.Tensor,
    batch_size: int | None,
    backend: str = "torch",
    graphs: str = "off",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Like the oracle's Scorer, with one target per image and the rescoring op: (N,) float64 probabilities
    and (N,) argmax classes on the images' device, at most batch_size images per model call.

    graphs "capture" (graphs.GRAPH_MODES) replays every call as one CUDA graph of `batch_size`
    images (the last chunk padded with repeats of its last image, whose scores are dropped),
    cached per model and shape; the targets must have been checked (evaluate checks them)."""
    step = batch_size or default_batch_size(images.device, images[0].numel())
    probabilities, classes = [], []
    scorer = None if graphs == "off" else _static_scorer(model, images, step, backend, graphs)
    with torch.no_grad(), full_float32():
        for start in range(0, images.shape[0], step):
            chunk, chunk_targets = images[start : start + step], targets[start : start + step]
            if scorer is not None:
                found = scorer(chunk, chunk_targets)
            else:
                logits = check_logits(model(chunk), chunk.shape[0], chunk_targets)
                with annotate("rescoring"):
                    found = target_probabilities(logits, chunk_targets, backend)
            probabilities.append(found[0])
            classes.append(found[1])
    return torch.cat(probabilities), torch.cat(classes)


class StaticScorer:
    """score_targets' model call on a fixed chunk of images, as a StaticCall."""

    def __init__(self, model, like: torch.Tensor, step: int, backend: str, capture: bool):
        self.images = torch.zeros((step, *like.shape[1:]), dtype=like.dtype, device=like.device)
        self.targets = torch.zeros(step, dtype=torch.long, device=like.device)

        def body():
            logits = check_logits(model(self.images), step, self.targets[:0])
            return target_probabilities(logits, self.targets, backend)

        self.call = StaticCall(body, capture, "the metrics' scoring forward pass")

    def __call__(self, chunk: torch.Tensor, targets: torch.Tensor):
        size = chunk.shape[0]
        self.images[:size].copy_(chunk)
        self.targets[:size].copy_(targets)
        if size < self.images.shape[0]:  # pad with the last image: its scores are dropped
            self.images[size:].copy_(chunk[-1:].expand(self.images.shape[0] - size, *chunk.shape[1:]))
            self.targets[size:].copy_(targets[-1:].expand(self.images.shape[0] - size))
        with annotate("rescoring"):
            probabilities, classes = self.call()
        return probabilities[:size].clone(), classes[:size].clone()


def _static_scorer(model, images: torch.Tensor, step: int, backend: str, graphs: str) -> StaticScorer:
    return CACHE.get(
        "score",
        model,
        images[0],  # one image: the captured call's shape is `step` of them
        (step, backend, graphs),
        lambda: StaticScorer(model, images, step, backend, graphs == "capture"),
    )
