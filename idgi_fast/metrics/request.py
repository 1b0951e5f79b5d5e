"""`evaluate`'s door: the user's arguments checked once, in the order a user meets them, into one
immutable `EvaluationRequest`. The metrics below it take the request as given and check nothing
of it again (they check only what the model computes, its logits)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from ..ops.backends import resolve_backend
from ..reference.metrics.information import check_entropy_options, check_msssim_options
from ..reference.metrics.pic import check_random_mask
from ..reference.metrics.road import check_road_images
from ..runtime.graphs import resolve_graphs
from ..runtime.precision import check_precision, full_float32
from ..saliency import saliency_map
from ..utils.checks import check_flag
from ..validation import check_finite, check_inputs, check_model, resolve_batch_size, resolve_targets
from .options import EvaluationOptions, check_evaluation_settings
from .stability import check_explain_fn


@dataclass(frozen=True)
class EvaluationRequest:
    """One `evaluate` call, resolved: images (B, C, H, W) checked, the (B, H, W) float64 saliency
    on the images' device, the targets, the metrics, the options with the batch size filled in,
    the op backend and graphs mode, the precision and the localization masks as bool."""

    model: Any
    images: torch.Tensor
    attributions: torch.Tensor
    saliency: torch.Tensor
    targets: torch.Tensor
    metrics: tuple[str, ...]
    options: EvaluationOptions
    backend: str
    graphs: str
    precision: str
    masks: torch.Tensor | None
    explain_fn: Any
    show_progress: bool | None


def resolve_evaluation(
    model,
    images,
    attributions,
    target,
    metrics,
    masks,
    explain_fn,
    show_progress,
    backend,
    graphs,
    precision,
    options: dict[str, Any],
) -> EvaluationRequest:
    """Every argument of `evaluate` checked and resolved; each failure names the fix."""
    metrics, settings = check_evaluation_settings(metrics, options)
    precision = check_precision(precision)
    if show_progress is not None:
        check_flag("show_progress", show_progress)
    images = check_images(images)
    backend = resolve_backend(backend, images)
    graphs = resolve_graphs(graphs, images.device, backend)
    check_model(model, images)
    per_call = resolve_batch_size(
        settings.batch_size, images.device, "images per model call", values_per_item=images[0].numel()
    )
    settings = replace(settings, batch_size=per_call)
    saliency = resolve_saliency(attributions, images, settings.reduce)
    check_images_for(settings, metrics, images)
    with full_float32():
        targets = resolve_targets(target, model, images, settings.batch_size, check_outputs=True)
    masks = _checked_masks(metrics, masks, saliency)
    _check_stability_inputs(metrics, attributions, explain_fn)
    return EvaluationRequest(
        model,
        images,
        attributions,
        saliency,
        targets,
        metrics,
        settings,
        backend,
        graphs,
        precision,
        masks,
        explain_fn,
        show_progress,
    )


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
            f"attributions of shape {tuple(attributions.shape)} do not match images of shape "
            f"{tuple(images.shape)}; "
            f"pass an attribution shaped like the images or a saliency map of shape ({batch}, {height}, "
            f"{width})"
        )
    saliency = saliency.detach().to(device=images.device, dtype=torch.float64)
    check_finite(saliency, "attributions")
    return saliency


def check_evaluation_images(metrics: object, options: dict[str, Any], images: torch.Tensor) -> None:
    """What the images' size and range must fit under these metrics and options (MS-SSIM's
    scales, the entropy axis's [0, 1]), so that a study refuses them before any work."""
    metrics, settings = check_evaluation_settings(metrics, options)
    check_images_for(settings, metrics, images)


def check_images_for(options: EvaluationOptions, metrics: tuple[str, ...], images: torch.Tensor) -> None:
    if {"sic", "aic"} & set(metrics):
        if "msssim" in options.information:
            check_msssim_options(
                images.shape[-2], images.shape[-1], options.msssim_win_size, options.msssim_scales
            )
        if "entropy" in options.information:
            check_entropy_options(options.entropy_format, options.webp_method, images.shape[1])
            check_unit_range(images, "the entropy information axis")
        if options.pair_random_mask is not None:
            check_random_mask(options.pair_random_mask, images.shape[-2:])
    if "stability" in metrics:
        check_unit_range(images, "the JPEG stability metric")
    if "road" in metrics:
        check_road_images(images.shape[-2], images.shape[-1])


def _checked_masks(metrics, masks, saliency: torch.Tensor) -> torch.Tensor | None:
    """Localization's ground-truth masks as bool on the saliency's device (None without it)."""
    if "localization" not in metrics:
        return None
    if masks is None:
        raise ValueError("the localization metric needs ground-truth masks: pass masks=(B, H, W) bool tensor")
    if tuple(masks.shape) != tuple(saliency.shape):
        raise ValueError(f"masks must have shape {tuple(saliency.shape)} (B, H, W); got {tuple(masks.shape)}")
    return masks.to(device=saliency.device, dtype=torch.bool)


def _check_stability_inputs(metrics, attributions: torch.Tensor, explain_fn) -> None:
    if "stability" in metrics:
        check_explain_fn(explain_fn)
        if attributions.ndim != 4:
            raise ValueError(
                "the stability metric compares attributions (B, C, H, W); a saliency map is not enough"
            )
