"""Pieces every metric shares (SEMANTICS.md §6): input checks, the pixel order, model scores,
uint8 conversion and the trapezoid rule."""
from __future__ import annotations

import torch

from ..ops.rescore import target_probabilities
from ..outputs import check_logits, full_float32
from ..profiling import annotate
from ..saliency import saliency_map
from ..validation import check_finite, check_inputs


def check_images(images: object) -> torch.Tensor:
    images = check_inputs(images, name="images")
    if images.ndim != 4:
        raise ValueError(
            f"images must be an image batch (B, C, H, W); got shape {tuple(images.shape)}. "
            "Use unsqueeze(0) for a single image."
        )
    return images


def check_unit_range(images: torch.Tensor, why: str) -> None:
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"images must lie in [0, 1] for {why} (it converts them to uint8 as round(255·x)); "
            f"got values in [{low:.4g}, {high:.4g}]. Pass pixel-space images and put any normalisation "
            "inside the model."
        )


def resolve_saliency(attributions: object, images: torch.Tensor, reduce: str) -> torch.Tensor:
    """(B, H, W) float64 saliency from an attribution (B, C, H, W) or an existing map (B, H, W)."""
    if not isinstance(attributions, torch.Tensor):
        raise TypeError(
            f"attributions must be a torch.Tensor, (B, C, H, W) like the images or a saliency map (B, H, W); "
            f"got {type(attributions).__name__}. From an ExplainResult use result.attribution(idgi=...)."
        )
    batch, _, height, width = images.shape
    if attributions.ndim == 4 and attributions.shape == images.shape:
        saliency = saliency_map(attributions, reduce)
    elif attributions.ndim == 3 and tuple(attributions.shape) == (batch, height, width):
        saliency = attributions
    else:
        raise ValueError(
            f"attributions of shape {tuple(attributions.shape)} do not match images of shape {tuple(images.shape)}; "
            f"pass an attribution shaped like the images or a saliency map of shape ({batch}, {height}, {width})"
        )
    saliency = saliency.detach().to(device=images.device, dtype=torch.float64)
    check_finite(saliency, "attributions")
    return saliency


def check_levels(levels: object, name: str) -> int:
    if isinstance(levels, bool) or not isinstance(levels, int) or levels < 2:
        raise ValueError(f"{name} must be an int ≥ 2 (a curve needs at least two points), got {levels!r}")
    return levels


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


def reveal_stack(source: torch.Tensor, canvas: torch.Tensor, ranks: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """(len(counts), C, H, W): `canvas` with the top counts[k] pixels (all channels) taken from `source`."""
    shown = torch.stack([ranks < n for n in counts])  # (levels, H, W)
    return torch.where(shown[:, None], source[None], canvas[None])


class Scorer:
    """Softmax probability of the target class and the argmax class, without gradients.

    At most `batch_size` images go through the model at once; TF32 is off as in explain().
    """

    def __init__(self, model, batch_size: int | None = None):
        self.model = model
        self.batch_size = batch_size

    def __call__(self, images: torch.Tensor, target: int) -> tuple[torch.Tensor, torch.Tensor]:
        step = self.batch_size or images.shape[0]
        targets = torch.full((images.shape[0],), int(target), dtype=torch.long, device=images.device)
        probabilities, classes = [], []
        with torch.no_grad(), full_float32():
            for start in range(0, images.shape[0], step):
                chunk = images[start:start + step]
                logits = check_logits(self.model(chunk), chunk.shape[0], targets[:1])
                softmax = torch.softmax(logits.to(torch.float64), dim=1)
                probabilities.append(softmax[:, int(target)])
                classes.append(logits.argmax(dim=1))
        return torch.cat(probabilities).cpu(), torch.cat(classes).cpu()


def score_targets(model, images: torch.Tensor, targets: torch.Tensor, batch_size: int | None,
                  backend: str = "torch") -> tuple[torch.Tensor, torch.Tensor]:
    """Like Scorer, with one target per image and the rescoring op: (N,) float64 probabilities
    and (N,) argmax classes on the images' device, at most batch_size images per model call."""
    step = batch_size or max(1, images.shape[0])
    probabilities, classes = [], []
    with torch.no_grad(), full_float32():
        for start in range(0, images.shape[0], step):
            chunk, chunk_targets = images[start:start + step], targets[start:start + step]
            logits = check_logits(model(chunk), chunk.shape[0], chunk_targets)
            with annotate("rescoring"):
                found = target_probabilities(logits, chunk_targets, backend)
            probabilities.append(found[0])
            classes.append(found[1])
    return torch.cat(probabilities), torch.cat(classes)


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """round(255·x) as uint8 (round half to even, torch.round); x must already lie in [0, 1]."""
    return torch.round(image.to(torch.float64) * 255.0).to(torch.uint8)


def trapezoid(values: torch.Tensor, dx: float) -> torch.Tensor:
    """Trapezoid rule along the last axis with uniform spacing dx."""
    return dx * (values.sum(dim=-1) - 0.5 * (values[..., 0] + values[..., -1]))
