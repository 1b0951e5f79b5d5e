"""A model as the package's study takes it: images in [0, 1], the model's own normalisation
applied inside (`normalize=(mean, std)`), the output reduced to logits (B, classes) — so that
users never rewrite their model for us."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn


def logits_of(output: object) -> torch.Tensor:
    """A model's logits from what it returned: a tensor, the first item of a tuple or list, or
    the `.logits` of an output object (transformers' and timm's heads)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    raise TypeError(
        f"the model returned {type(output).__name__}; the study takes logits (B, classes): a tensor, "
        "a tuple or list whose first item is one, or an object with a .logits tensor. Wrap the model so "
        "that it returns one of these"
    )


def normalisation(normalize: object, channels: int | None = None) -> tuple[tuple[float, ...], ...] | None:
    if normalize is None:
        return None
    try:
        mean, std = (tuple(float(v) for v in torch.as_tensor(part).reshape(-1)) for part in normalize)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"normalize must be (mean, std), one value or one per channel each, e.g. "
            f"((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)); got {normalize!r}"
        ) from None
    if not mean or not std or any(s <= 0 for s in std) or not all(map(_finite, mean + std)):
        raise ValueError(f"normalize: the std must be > 0 and every value finite; got mean {mean}, std {std}")
    return mean, std


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


class StudyModel(nn.Module):
    """A user's model as the study calls it: `images` in [0, 1], normalised by (mean, std) before
    the model when given, its output reduced to logits (`logits_of`)."""

    def __init__(self, model: Callable, normalize: Sequence | None = None):
        super().__init__()
        self.model = model
        found = normalisation(normalize)
        self.normalize = found
        if found is not None:
            self.register_buffer("mean", torch.tensor(found[0]).view(1, -1, 1, 1))
            self.register_buffer("std", torch.tensor(found[1]).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.normalize is not None:
            images = (images - self.mean.to(images.dtype)) / self.std.to(images.dtype)
        return logits_of(self.model(images))
