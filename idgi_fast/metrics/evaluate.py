"""`idgi_fast.evaluate`: every metric of docs/semantics.md §6 on one batch, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import torch

from ..reference.metrics.insertion import insertion_deletion
from ..reference.metrics.road import road
from ..runtime.precision import scoring_model
from ..utils.progress import progress
from ..utils.serialize import plain_data
from ..utils.tables import markdown_table
from .insertion import insertion_deletion_batched
from .localization import energy_in_mask, pointing_game
from .options import DEFAULT_METRICS, EvaluationOptions
from .pic import score_pic
from .request import EvaluationRequest, resolve_evaluation
from .road import road_batched
from .stability import jpeg_stability


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
    request = resolve_evaluation(
        model, images, attributions, target, metrics, masks, explain_fn, show_progress, backend, graphs,
        precision, options,
    )  # fmt: skip
    return _scored(request)


def _scored(request: EvaluationRequest) -> Evaluation:
    """Every metric of the request, in the order insertion/deletion, SIC/AIC, ROAD, localization,
    stability."""
    r = request
    result = Evaluation(metrics=r.metrics, targets=r.targets.cpu(), options=r.options)
    result.details["backend"], result.details["precision"] = r.backend, r.precision
    model = scoring_model(r.model, r.precision, r.images.device)
    modes = tuple(m for m in ("insertion", "deletion") if m in r.metrics)
    scores = tuple(m for m in ("sic", "aic") if m in r.metrics)
    total = r.images.shape[0] * (bool(modes) + bool(scores) + ("road" in r.metrics))
    with progress(total=total, desc="evaluate", unit="image", enabled=r.show_progress) as bar:
        if modes:
            _insertion_deletion(result, model, r, modes, bar)
        if scores:
            _pic(result, model, r, scores, bar)
        if "road" in r.metrics:
            _road(result, model, r, bar)
    if "localization" in r.metrics:
        _localization(result, r.saliency, r.masks)
    if "stability" in r.metrics:
        _stability(result, r)
    return result


def _stability(result: Evaluation, r: EvaluationRequest) -> None:
    settings = r.options
    found = jpeg_stability(
        r.explain_fn, r.images, r.attributions, r.targets, settings.jpeg_quality, settings.stability_norm
    )
    result.per_image["stability"] = found.per_image
    result.aggregate["stability"] = found.score
    result.details["stability_mse"] = found.mse
    result.details["stability_reference"] = found.reference


def _insertion_deletion(result: Evaluation, model, r: EvaluationRequest, modes, bar):
    settings = r.options
    arguments = (
        model,
        r.images,
        r.saliency,
        r.targets,
        modes,
        settings.insertion_canvas,
        settings.insertion_sigma,
        settings.insertion_levels,
        settings.batch_size,
    )
    found = _insertion_deletion_runner(r.backend, r.graphs)(*arguments, progress_bar=bar)
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


def _road(result: Evaluation, model, r: EvaluationRequest, bar) -> None:
    settings = r.options
    arguments = (model, r.images, r.saliency, r.targets, settings.road_percentages, settings.road_noise)
    options = {"seed": settings.road_seed, "orders": settings.road_orders, "batch_size": settings.batch_size}
    if r.backend == "reference":
        found = road(*arguments, **options, progress_bar=bar)
    else:
        found = road_batched(*arguments, **options, backend=r.backend, graphs=r.graphs, progress_bar=bar)
    result.details["road_percentages"] = list(found.percentages)
    for key, curves in found.curves.items():
        result.curves[f"road/{key}"] = curves
        result.aggregate_curves[f"road/{key}"] = curves.mean(dim=0)
        result.per_image[f"road/{key}"] = found.auc[key]
        result.aggregate[f"road/{key}"] = float(found.auc[key].mean())


def _pic(result: Evaluation, model, r: EvaluationRequest, scores, bar) -> None:
    found = score_pic(model, r.images, r.saliency, r.targets, r.options, scores, r.backend, r.graphs, bar)
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
