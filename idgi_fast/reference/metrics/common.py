"""What the per-image metric oracle and the fast metrics share (docs/semantics.md §6): the
pixel order, the level counts, the reveal stack, the model's scores, uint8 conversion and the
trapezoid rule."""

from __future__ import annotations

import torch

from ...ops.composite import composite_torch
from ...outputs import check_logits
from ...runtime.precision import full_float32
from ...validation import default_batch_size


def pixel_ranks(saliency: torch.Tensor) -> torch.Tensor:
    """Position of every pixel in the order "descending saliency, ties to the lower flat index".

    A pixel of rank r is among the top n pixels exactly when r < n. Input (…, H, W) — one map
    or a batch, ranked per map on its device — output of the same shape, int64.
    """
    flat = saliency.flatten(-2)
    order = torch.sort(flat, dim=-1, descending=True, stable=True).indices
    positions = torch.arange(flat.shape[-1], device=order.device).expand_as(order)
    return torch.empty_like(order).scatter_(-1, order, positions).view(saliency.shape)


def level_counts(n_pixels: int, intervals: int) -> list[int]:
    """⌊k·n/intervals⌋ for k = 0 … intervals: how many top pixels each level reveals."""
    return [k * n_pixels // intervals for k in range(intervals + 1)]


def reveal_stack(
    source: torch.Tensor, canvas: torch.Tensor, ranks: torch.Tensor, counts: list[int]
) -> torch.Tensor:
    """(len(counts), C, H, W): `canvas` with the top counts[k] pixels (all channels) taken from `source`;
    the composite op's torch implementation on one image."""
    levels = torch.tensor(counts, device=ranks.device)
    return composite_torch(source[None], canvas[None], ranks[None], levels)[0]


class Scorer:
    """Softmax probability of the target class and the argmax class, without gradients.

    At most `batch_size` images go through the model at once; TF32 is off as in explain().
    """

    def __init__(self, model, batch_size: int | None = None):
        self.model = model
        self.batch_size = batch_size

    def __call__(self, images: torch.Tensor, target: int) -> tuple[torch.Tensor, torch.Tensor]:
        step = self.batch_size or default_batch_size(images.device, images[0].numel())
        targets = torch.full((images.shape[0],), int(target), dtype=torch.long, device=images.device)
        probabilities, classes = [], []
        with torch.no_grad(), full_float32():
            for start in range(0, images.shape[0], step):
                chunk = images[start : start + step]
                logits = check_logits(self.model(chunk), chunk.shape[0], targets[:1])
                softmax = torch.softmax(logits.to(torch.float64), dim=1)
                probabilities.append(softmax[:, int(target)])
                classes.append(logits.argmax(dim=1))
        return torch.cat(probabilities).cpu(), torch.cat(classes).cpu()


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """round(255·x) as uint8 (round half to even, torch.round); x must already lie in [0, 1]."""
    return torch.round(image.to(torch.float64) * 255.0).to(torch.uint8)


def trapezoid(values: torch.Tensor, dx: float) -> torch.Tensor:
    """Trapezoid rule along the last axis with uniform spacing dx."""
    return dx * (values.sum(dim=-1) - 0.5 * (values[..., 0] + values[..., -1]))
