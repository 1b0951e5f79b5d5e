"""`idgi_fast.evaluate`: every metric of docs/semantics.md §6 on one batch, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import torch

from ..ops.backends import resolve_backend
from ..reference.metrics.insertion import insertion_deletion
from ..reference.metrics.road import road
from ..runtime.graphs import resolve_graphs
from ..runtime.precision import check_precision, full_float32, scoring_model
from ..utils.checks import check_flag
from ..utils.progress import progress
from ..utils.serialize import plain_data
from ..utils.tables import markdown_table
from ..validation import check_model, resolve_batch_size, resolve_targets
from .common import check_images, resolve_saliency
from .insertion import insertion_deletion_batched
from .localization import energy_in_mask, pointing_game
from .options import DEFAULT_METRICS, EvaluationOptions, check_evaluation_settings, check_images_for
from .pic import pic_curves
from .road import road_batched
from .stability import check_explain_fn, jpeg_stability


@dataclass
class Evaluation:
    """What `evaluate` returns. Per-image values (B,) are NaN where an image was skipped.

    per_image / aggregate keys: "insertion/probability", "insertion/probability_ratio",
    "deletion/…", "sic/entropy", "aic/entropy", "sic/msssim", "aic/msssim", "energy_in_mask",
    "pointing_game", "stability", "road/<order>/<score>" (order morf | lerf, score probability |
    accuracy). Insertion, Deletion and localization aggregate by the mean
    over images; SIC/AIC by the AUC of the aggregated curve; stability as −log10 of the mean
    squared difference over images.
    curves: per-image curves — "insertion"/"deletion" (B, K + 1) probabilities, "sic/…"/"aic/…"
    (B, 1001) on x = 0, 0.001, …, 1; aggregate_curves: the mean insertion/deletion curve and the
    aggregated SIC/AIC curves. skipped: per SIC/AIC key, the count of images per skip reason
    and in total ("images"); skip_reasons: per key, each image's list of reasons. ROAD's curves
    "road/…" are (B, P) over details["road_percentages"]; its areas aggregate by the mean.
    """

    metrics: tuple[str, ...]
    targets: torch.Tensor
    per_image: dict[str, torch.Tensor] = field(default_factory=dict)
    aggregate: dict[str, float] = field(default_factory=dict)
    curves: dict[str, torch.Tensor] = field(default_factory=dict)
    aggregate_curves: dict[str, torch.Tensor] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    skip_reasons: dict[str, list[list[str]]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    options: EvaluationOptions = field(default_factory=EvaluationOptions)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: tensors become lists, NaN becomes None, ±inf the strings "inf"/"-inf"."""
        return plain_data(
            {
                "metrics": list(self.metrics),
                "targets": self.targets,
                "per_image": self.per_image,
                "aggregate": self.aggregate,
                "curves": self.curves,
                "aggregate_curves": self.aggregate_curves,
                "skipped": self.skipped,
                "skip_reasons": self.skip_reasons,
                "details": self.details,
                "options": asdict(self.options),
            }
        )

    def table(self) -> str:
        """The aggregate scores (and SIC/AIC skip counts) as a Markdown table."""
        rows = [
            {"metric": key, "value": value, "images skipped": self.skipped.get(key, {}).get("images", "")}
            for key, value in self.aggregate.items()
        ]
        return markdown_table(rows, ["metric", "value", "images skipped"])


def _insertion_deletion_runner(backend: str, graphs: str):
    """The oracle for "reference", else the batched path with the op backend every op receives
    (resolved once, as explain does) and the graphs mode."""
    if backend == "reference":
        return insertion_deletion
    return partial(insertion_deletion_batched, backend=backend, graphs=graphs)


def evaluate(
    model,
    images: torch.Tensor,
    attributions: torch.Tensor,
    target=None,
    metrics=DEFAULT_METRICS,
    *,
    masks: torch.Tensor | None = None,
    explain_fn=None,
    show_progress: bool | None = None,
    backend: str = "auto",
    graphs: bool | None = None,
    precision: str = "fp32",
    **options,
) -> Evaluation:
    """Score one batch of attributions (docs/semantics.md §6).

    model: logits (B, K) from pixel-space images (normalisation inside the model).
    images: (B, C, H, W) float in the model's dtype; [0, 1] for the entropy axis and stability.
    attributions: (B, C, H, W) like the images, or a saliency map (B, H, W).
    target: int, list, 1-D tensor or None (the model's argmax on the images).
    metrics: any of "insertion", "deletion", "sic", "aic", "localization" (needs masks (B, H, W)),
    "stability" (needs explain_fn(images, targets) → attributions, see attribution_function),
    "road" (MoRF/LeRF with noisy linear imputation, docs/metrics.md §15).
    backend: as explain's; "reference" scores one image at a time in plain PyTorch. The fast
    backends batch insertion, deletion and SIC/AIC (blur profile); the pair profile, localization
    and stability run the same code on every backend. graphs: as explain's, for scoring passes.
    precision: as explain's, for every scoring pass ("fp32" default, "tf32", "bf16"); the targets
    (target=None) come from exact float32 as explain's do, and everything after the logits
    (softmax, curves, areas) stays float64 (docs/backends.md §13).
    options: the fields of EvaluationOptions.
    """
    metrics, settings = check_evaluation_settings(metrics, options)
    precision = check_precision(precision)
    if show_progress is not None:
        check_flag("show_progress", show_progress)
    images = check_images(images)
    backend = resolve_backend(backend, images)
    graphs = resolve_graphs(graphs, images.device, backend)
    check_model(model, images)
    settings = replace(
        settings,
        batch_size=resolve_batch_size(
            settings.batch_size, images.device, "images per model call", values_per_item=images[0].numel()
        ),
    )
    saliency = resolve_saliency(attributions, images, settings.reduce)
    check_images_for(settings, metrics, images)
    with full_float32():
        targets = resolve_targets(target, model, images, settings.batch_size, check_outputs=True)
    _check_metric_inputs(metrics, saliency, masks, attributions, explain_fn)
    result = Evaluation(metrics=metrics, targets=targets.cpu(), options=settings)
    result.details["backend"], result.details["precision"] = backend, precision
    model = scoring_model(model, precision, images.device)
    modes = tuple(m for m in ("insertion", "deletion") if m in metrics)
    scores = tuple(m for m in ("sic", "aic") if m in metrics)
    total = images.shape[0] * (bool(modes) + bool(scores) + ("road" in metrics))
    with progress(total=total, desc="evaluate", unit="image", enabled=show_progress) as bar:
        if modes:
            _insertion_deletion(result, model, images, saliency, targets, modes, backend, graphs, bar)
        if scores:
            _pic(result, model, images, saliency, targets, scores, backend, graphs, bar)
        if "road" in metrics:
            _road(result, model, images, saliency, targets, backend, graphs, bar)
    if "localization" in metrics:
        _localization(result, saliency, masks.to(device=saliency.device, dtype=torch.bool))
    if "stability" in metrics:
        _stability(result, explain_fn, images, attributions, targets)
    return result


def _stability(result: Evaluation, explain_fn, images, attributions, targets) -> None:
    settings = result.options
    found = jpeg_stability(
        explain_fn, images, attributions, targets, settings.jpeg_quality, settings.stability_norm
    )
    result.per_image["stability"] = found.per_image
    result.aggregate["stability"] = found.score
    result.details["stability_mse"] = found.mse
    result.details["stability_reference"] = found.reference


def _check_metric_inputs(metrics, saliency, masks, attributions, explain_fn) -> None:
    """What localization and stability need beyond the images: masks, an explain function."""
    if "localization" in metrics:
        if masks is None:
            raise ValueError(
                "the localization metric needs ground-truth masks: pass masks=(B, H, W) bool tensor"
            )
        if tuple(masks.shape) != tuple(saliency.shape):
            raise ValueError(
                f"masks must have shape {tuple(saliency.shape)} (B, H, W); got {tuple(masks.shape)}"
            )
    if "stability" in metrics:
        check_explain_fn(explain_fn)
        if attributions.ndim != 4:
            raise ValueError(
                "the stability metric compares attributions (B, C, H, W); a saliency map is not enough"
            )


def _insertion_deletion(result: Evaluation, model, images, saliency, targets, modes, backend, graphs, bar):
    settings = result.options
    arguments = (
        model,
        images,
        saliency,
        targets,
        modes,
        settings.insertion_canvas,
        settings.insertion_sigma,
        settings.insertion_levels,
        settings.batch_size,
    )
    found = _insertion_deletion_runner(backend, graphs)(*arguments, progress_bar=bar)
    result.details["input_probability"] = found.original
    for mode in modes:
        result.curves[mode] = found.curves[mode]
        result.aggregate_curves[mode] = found.curves[mode].mean(dim=0)
        for name, values in found.scores[mode].items():
            result.per_image[f"{mode}/{name}"] = values
            result.aggregate[f"{mode}/{name}"] = float(values.mean())


def _localization(result: Evaluation, saliency: torch.Tensor, masks: torch.Tensor) -> None:
    energy = energy_in_mask(saliency, masks).cpu()
    hits = pointing_game(saliency, masks).cpu().to(torch.float64)
    result.per_image["energy_in_mask"], result.aggregate["energy_in_mask"] = energy, float(energy.mean())
    result.per_image["pointing_game"], result.aggregate["pointing_game"] = hits, float(hits.mean())


def _road(result: Evaluation, model, images, saliency, targets, backend, graphs, bar) -> None:
    settings = result.options
    arguments = (model, images, saliency, targets, settings.road_percentages, settings.road_noise)
    options = {"seed": settings.road_seed, "orders": settings.road_orders, "batch_size": settings.batch_size}
    if backend == "reference":
        found = road(*arguments, **options, progress_bar=bar)
    else:
        found = road_batched(*arguments, **options, backend=backend, graphs=graphs, progress_bar=bar)
    result.details["road_percentages"] = list(found.percentages)
    for key, curves in found.curves.items():
        result.curves[f"road/{key}"] = curves
        result.aggregate_curves[f"road/{key}"] = curves.mean(dim=0)
        result.per_image[f"road/{key}"] = found.auc[key]
        result.aggregate[f"road/{key}"] = float(found.auc[key].mean())


def _pic(result: Evaluation, model, images, saliency, targets, scores, backend, graphs, bar) -> None:
    found = pic_curves(
        model,
        images,
        saliency,
        targets,
        result.options,
        scores=scores,
        backend=backend,
        graphs=graphs,
        progress_bar=bar,
    )
    _add_pic(result, found)


def _add_pic(result: Evaluation, found) -> None:
    result.details["pic_levels"] = found.levels
    result.details["pic_input"] = found.original
    for key in found.curves:
        result.per_image[key] = found.auc[key]
        result.aggregate[key] = found.aggregate_auc[key]
        result.curves[key] = found.curves[key]
        result.aggregate_curves[key] = found.aggregate_curve[key]
        result.skipped[key] = found.skipped(key)
        result.skip_reasons[key] = found.skip_reasons[key]
