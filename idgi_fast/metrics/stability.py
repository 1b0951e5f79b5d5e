"""Numerical stability under JPEG compression (docs/semantics.md §6, the IDGI study's experiment).

Each uint8 input is re-encoded as JPEG, the attribution is recomputed on the decoded image,
both channel-summed maps are normalised, and the score is −log10 of their mean squared
difference. Higher is more stable.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..reference.metrics.common import to_uint8

STABILITY_NORMS = ("l1", "sum")
ExplainFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def jpeg_round_trip(images: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """Images in [0, 1] → uint8 → JPEG at `quality` (Pillow's defaults otherwise, 4:2:0 chroma)
    → decoded / 255."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 95:
        raise ValueError(f"jpeg_quality must be an int in 1 … 95, got {quality!r}")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"JPEG holds 1- or 3-channel images; got {images.shape[1]} channels")
    decoded = []
    for array in to_uint8(images).permute(0, 2, 3, 1).cpu().numpy():
        buffer = io.BytesIO()
        Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).save(
            buffer, format="JPEG", quality=quality
        )
        buffer.seek(0)
        pixels = np.asarray(Image.open(buffer).convert("L" if array.shape[-1] == 1 else "RGB"))
        decoded.append(torch.from_numpy(pixels.reshape(array.shape).copy()))
    stacked = torch.stack(decoded).permute(0, 3, 1, 2)
    return stacked.to(device=images.device, dtype=images.dtype) / 255


def quantised(images: torch.Tensor) -> torch.Tensor:
    """round(255·x)/255 in the images' dtype: what a uint8 file of these images holds."""
    return to_uint8(images).to(images.dtype) / 255


def normalised_maps(attributions: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """Channel-summed (B, H, W) maps divided by their L1 norm ("l1") or their signed sum ("sum").

    A map whose norm is 0 is left as it is (it cannot be rescaled).
    """
    if norm not in STABILITY_NORMS:
        raise ValueError(f"stability_norm must be one of {STABILITY_NORMS}, got {norm!r}")
    maps = attributions.to(torch.float64).sum(dim=1)
    flat = maps.flatten(1)
    scale = flat.abs().sum(dim=1) if norm == "l1" else flat.sum(dim=1)
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    return maps / scale.view(-1, 1, 1)


def map_mse(first: torch.Tensor, second: torch.Tensor, norm: str = "l1") -> torch.Tensor:
    """(B,) mean squared difference over pixels of the two attributions' normalised maps."""
    difference = normalised_maps(first, norm) - normalised_maps(second, norm)
    return difference.pow(2).flatten(1).mean(dim=1)


def stability_score(mse: torch.Tensor) -> float:
    """−log10 of the mean squared difference over pixels and images (+inf when the maps are identical)."""
    return float(-torch.log10(mse.to(torch.float64).mean()))


@dataclass
class StabilityResult:
    mse: torch.Tensor  # (B,) per image
    per_image: torch.Tensor  # (B,) −log10 mse of each image
    score: float  # −log10 of the mean mse over images
    reference: str  # "given": the attributions passed in; "quantised": recomputed on round(255·x)/255


def check_explain_fn(explain_fn: object) -> ExplainFunction:
    if not callable(explain_fn):
        raise TypeError(
            "the stability metric recomputes attributions: pass explain_fn=f with f(images, targets) → "
            "attributions, "
            "for example idgi_fast.metrics.attribution_function(model, method='ig', steps=128, idgi=True)"
        )
    return explain_fn  # type: ignore[return-value]


def _call(explain_fn: ExplainFunction, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    attributions = explain_fn(images, targets)
    if not isinstance(attributions, torch.Tensor) or attributions.shape != images.shape:
        shape = (
            tuple(attributions.shape)
            if isinstance(attributions, torch.Tensor)
            else type(attributions).__name__
        )
        raise ValueError(
            f"explain_fn must return attributions shaped like its images {tuple(images.shape)}; got {shape}"
        )
    return attributions.detach()


def _stability(first: torch.Tensor, second: torch.Tensor, norm: str, reference: str) -> StabilityResult:
    mse = map_mse(first, second, norm).cpu()
    return StabilityResult(mse, -torch.log10(mse), stability_score(mse), reference)


def _unperturbed(explain_again, images: torch.Tensor, given):
    """("given", `given`) when the images are already 8-bit values, else ("quantised", the
    explanation of round(255·x)/255), so that the comparison measures the JPEG step alone."""
    on_grid = quantised(images)
    if torch.equal(on_grid, images):
        return "given", given
    return "quantised", explain_again(on_grid)


def jpeg_stability(
    explain_fn: ExplainFunction,
    images: torch.Tensor,
    attributions: torch.Tensor,
    targets: torch.Tensor,
    quality: int = 75,
    norm: str = "l1",
) -> StabilityResult:
    """Stability of `explain_fn` under a JPEG round trip of `images` (in [0, 1]).

    The comparison isolates the JPEG step: when the images are not exactly uint8 values, the
    unperturbed attribution is recomputed on their uint8 quantisation instead of using
    `attributions`, which belong to the unquantised images.
    """
    explain_fn = check_explain_fn(explain_fn)
    again = lambda x: _call(explain_fn, x, targets)  # noqa: E731
    reference, first = _unperturbed(again, images, attributions)
    return _stability(first, again(jpeg_round_trip(images, quality)), norm, reference)


def result_stability(
    explain_again, images: torch.Tensor, result, quality: int = 75, norms: tuple[str, ...] = ("l1",)
) -> dict[tuple[bool, int], dict[str, StabilityResult]]:
    """The same metric for every attribution an ExplainResult holds, keyed (idgi, step count),
    then by normalisation (each of `norms`: the same maps, so every norm costs nothing more),
    from one more explain: `explain_again(images)` must rerun the explain that gave `result`
    (same model, targets and options). Base and IDGI maps of every `compute_at` count are
    compared with their counterparts on the JPEG round trip."""
    reference, unperturbed = _unperturbed(explain_again, images, result)
    perturbed = explain_again(jpeg_round_trip(images, quality))
    counts = sorted(result.base) if isinstance(result.base, dict) else [result.steps]
    variants = [False, True] if result.idgi is not None else [False]
    return {
        (idgi, count): {
            norm: _stability(
                unperturbed.attribution(idgi=idgi, steps=count),
                perturbed.attribution(idgi=idgi, steps=count),
                norm,
                reference,
            )
            for norm in norms
        }
        for idgi in variants
        for count in counts
    }


def attribution_function(
    model, method: str = "ig", steps: int = 128, idgi: bool = True, **explain_options
) -> ExplainFunction:
    """f(images, targets) → the attribution `explain` gives (the IDGI one when idgi=True)."""
    from ..api import explain

    def explain_fn(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        result = explain(
            model, images, target=targets, method=method, steps=steps, idgi=idgi, **explain_options
        )
        return result.attribution(idgi=idgi)

    return explain_fn
