"""`idgi_fast.evaluate`: every metric of docs/semantics.md §6 on one batch, as plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from typing import Any

import torch

from ..graphs import resolve_graphs
from ..methods import check_flag, check_positive_float
from ..ops.backends import resolve_backend
from ..progress import progress
from ..reference.metrics.information import check_msssim_options
from ..reference.metrics.insertion import CANVASES, insertion_deletion
from ..reference.metrics.pic import PAIR_THRESHOLDS, check_pic_options, check_random_mask
from ..serialize import plain_data
from ..tables import markdown_table
from ..validation import check_model, resolve_batch_size, resolve_targets
from .common import check_images, check_levels, check_unit_range, resolve_saliency
from .insertion import insertion_deletion_batched
from .localization import energy_in_mask, pointing_game
from .pic import pic_curves
from .stability import STABILITY_NORMS, check_explain_fn, jpeg_stability

METRICS = ("insertion", "deletion", "sic", "aic", "localization", "stability")
DEFAULT_METRICS = ("insertion", "deletion", "sic", "aic")


@dataclass(frozen=True)
class EvaluationOptions:
    """Every option of `evaluate`, with docs/semantics.md's defaults."""

    reduce: str = "sum"  # channel reduction of attributions: sum | abs_sum | sum_abs
    batch_size: int | None = None  # images per model call (None: validation.default_batch_size)
    # Insertion / Deletion
    insertion_canvas: str = "black"  # black | blur
    insertion_sigma: float = 10.0
    insertion_levels: int = 20  # K: images k = 0 … K
    # SIC / AIC
    pic_profile: str = "blur"  # blur | pair
    pic_sigma: float = 10.0
    pic_levels: int = 25  # L: images l = 0 … L − 1 (blur profile)
    information: tuple[str, ...] = ("entropy", "msssim")
    entropy_format: str = "webp"  # webp (lossless, quality 100) | png
    webp_method: int = 4  # WebP encoder effort 0 … 6; 4 is Pillow's default
    encode_workers: int | None = None  # threads encoding for the entropy axis (None: one per CPU)
    overlap_encoding: bool | None = None  # encode while the model scores (None: only when not on the CPU)
    msssim_norm: str = "none"  # none (raw, as the IDGI study) | endpoints
    msssim_win_size: int = 11
    msssim_scales: int = 5
    min_pred: float = 0.8
    sic_aggregate: str = "median"
    aic_aggregate: str = "mean"
    pair_thresholds: tuple[float, ...] = PAIR_THRESHOLDS
    pair_random_fraction: float = 0.01
    pair_seed: int = 0
    pair_random_mask: Any = None  # (H, W) bool: the pair profile's random pixels (else from the seed)
    # JPEG stability
    jpeg_quality: int = 75
    stability_norm: str = "l1"  # l1 | sum (the study's signed sum)

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> EvaluationOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown evaluate option(s) {unknown}; valid options are {sorted(known)}")
        options = dict(options)
        if isinstance(options.get("information"), str):
            options["information"] = [options["information"]]
        for name in ("information", "pair_thresholds"):  # hashable, and safe from the caller's later edits
            if name in options:
                options[name] = tuple(options[name])
        return cls(**options)


@dataclass
class Evaluation:
    """What `evaluate` returns. Per-image values (B,) are NaN where an image was skipped.

    per_image / aggregate keys: "insertion/probability", "insertion/probability_ratio",
    "deletion/…", "sic/entropy", "aic/entropy", "sic/msssim", "aic/msssim", "energy_in_mask",
    "pointing_game", "stability". Insertion, Deletion and localization aggregate by the mean
    over images; SIC/AIC by the AUC of the aggregated curve; stability as −log10 of the mean
    squared difference over images.
    curves: per-image curves — "insertion"/"deletion" (B, K + 1) probabilities, "sic/…"/"aic/…"
    (B, 1001) on x = 0, 0.001, …, 1; aggregate_curves: the mean insertion/deletion curve and the
    aggregated SIC/AIC curves. skipped: per SIC/AIC key, the count of images per skip reason
    and in total ("images"); skip_reasons: per key, each image's list of reasons.
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


def _check_metrics(metrics: object) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not isinstance(metrics, Sequence) or not metrics:
        raise ValueError(f"metrics must be a non-empty list drawn from {METRICS}, got {metrics!r}")
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {METRICS}")
    return tuple(dict.fromkeys(metrics))


def check_evaluation_settings(
    metrics: object, options: dict[str, Any]
) -> tuple[tuple[str, ...], EvaluationOptions]:
    """Metrics and options checked without images, so that a study refuses them before any work."""
    metrics = _check_metrics(metrics)
    settings = EvaluationOptions.from_kwargs(options)
    _check_options(settings)
    return metrics, settings


def _check_options(options: EvaluationOptions) -> None:
    """Every option's value, whether or not the chosen metrics use it (a typo is an error, not a
    setting that silently waits for the day it is used)."""
    if options.overlap_encoding is not None:
        check_flag("overlap_encoding", options.overlap_encoding)
    check_levels(options.insertion_levels, "insertion_levels")
    if options.insertion_canvas not in CANVASES:
        raise ValueError(f"insertion_canvas must be one of {CANVASES}, got {options.insertion_canvas!r}")
    check_positive_float("insertion_sigma", options.insertion_sigma)
    check_pic_options(
        options.pic_profile,
        options.information,
        ("sic", "aic"),
        options.msssim_norm,
        options.min_pred,
        options.sic_aggregate,
        options.aic_aggregate,
    )
    if not options.information:
        raise ValueError("information must name at least one axis: 'entropy' and/or 'msssim'")
    check_positive_float("pic_sigma", options.pic_sigma)
    check_levels(options.pic_levels, "pic_levels")
    if not options.pair_thresholds:
        raise ValueError("pair_thresholds must hold at least one saliency fraction in (0, 1)")
    if options.stability_norm not in STABILITY_NORMS:
        raise ValueError(f"stability_norm must be one of {STABILITY_NORMS}, got {options.stability_norm!r}")
    if options.pair_random_mask is not None and options.pic_profile != "pair":
        raise ValueError(
            f"pair_random_mask sets the pair profile's random pixels, but pic_profile is "
            f"{options.pic_profile!r}; pass pic_profile='pair' or leave the mask out"
        )


def check_evaluation_images(metrics: object, options: dict[str, Any], images: torch.Tensor) -> None:
    """What the images' size and range must fit under these metrics and options (MS-SSIM's
    scales, the entropy axis's [0, 1]), so that a study refuses them before any work."""
    metrics, settings = check_evaluation_settings(metrics, options)
    _check_images_for(settings, metrics, images)


def _check_images_for(options: EvaluationOptions, metrics: tuple[str, ...], images: torch.Tensor) -> None:
    if {"sic", "aic"} & set(metrics):
        if "msssim" in options.information:
            check_msssim_options(
                images.shape[-2], images.shape[-1], options.msssim_win_size, options.msssim_scales
            )
        if "entropy" in options.information:
            check_unit_range(images, "the entropy information axis")
        if options.pair_random_mask is not None:
            check_random_mask(options.pair_random_mask, images.shape[-2:])
    if "stability" in metrics:
        check_unit_range(images, "the JPEG stability metric")


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
    **options,
) -> Evaluation:
    """Score one batch of attributions (docs/semantics.md §6).

    model: logits (B, K) from pixel-space images (normalisation inside the model).
    images: (B, C, H, W) float in the model's dtype; [0, 1] for the entropy axis and stability.
    attributions: (B, C, H, W) like the images, or a saliency map (B, H, W).
    target: int, list, 1-D tensor or None (the model's argmax on the images).
    metrics: any of "insertion", "deletion", "sic", "aic", "localization" (needs masks (B, H, W)),
    "stability" (needs explain_fn(images, targets) → attributions, see attribution_function).
    backend: "auto" (Triton kernels for CUDA tensors; on the CPU the native C++ ops where they
    are built, else the vectorised torch path), "torch", "triton", "native" or "reference" (one
    image at a time, plain PyTorch). The fast backends
    batch insertion, deletion and SIC/AIC with the blur profile; the pair profile,
    localization and stability run the same code on every backend.
    graphs: None (default) replays the fast backends' scoring forward passes as CUDA graphs on CUDA
    tensors (docs/semantics.md §13); True asks for it, False turns it off.
    options: the fields of EvaluationOptions.
    """
    metrics, settings = check_evaluation_settings(metrics, options)
    if show_progress is not None:
        check_flag("show_progress", show_progress)
    images = check_images(images)
    backend = resolve_backend(backend, images)
    graphs = resolve_graphs(graphs, images.device, backend)
    check_model(model, images)
    settings = replace(
        settings,
        batch_size=resolve_batch_size(settings.batch_size, images.device, meaning="images per model call"),
    )
    saliency = resolve_saliency(attributions, images, settings.reduce)
    _check_images_for(settings, metrics, images)
    targets = resolve_targets(target, model, images, settings.batch_size, check_outputs=True)
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

    result = Evaluation(metrics=metrics, targets=targets.cpu(), options=settings)
    result.details["backend"] = backend
    batch = images.shape[0]
    modes = tuple(m for m in ("insertion", "deletion") if m in metrics)
    scores = tuple(m for m in ("sic", "aic") if m in metrics)
    with progress(
        total=batch * (bool(modes) + bool(scores)), desc="evaluate", unit="image", enabled=show_progress
    ) as bar:
        if modes:
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
        if scores:
            found = pic_curves(
                model,
                images,
                saliency,
                targets,
                profile=settings.pic_profile,
                sigma=settings.pic_sigma,
                levels=settings.pic_levels,
                information=settings.information,
                scores=scores,
                entropy_format=settings.entropy_format,
                webp_method=settings.webp_method,
                msssim_norm=settings.msssim_norm,
                msssim_win_size=settings.msssim_win_size,
                msssim_scales=settings.msssim_scales,
                min_pred=settings.min_pred,
                sic_aggregate=settings.sic_aggregate,
                aic_aggregate=settings.aic_aggregate,
                pair_thresholds=settings.pair_thresholds,
                pair_random_fraction=settings.pair_random_fraction,
                pair_seed=settings.pair_seed,
                pair_random_mask=settings.pair_random_mask,
                batch_size=settings.batch_size,
                backend=backend,
                graphs=graphs,
                encode_workers=settings.encode_workers,
                overlap_encoding=settings.overlap_encoding,
                progress_bar=bar,
            )
            result.details["pic_levels"] = found.levels
            result.details["pic_input"] = found.original
            for key in found.curves:
                result.per_image[key] = found.auc[key]
                result.aggregate[key] = found.aggregate_auc[key]
                result.curves[key] = found.curves[key]
                result.aggregate_curves[key] = found.aggregate_curve[key]
                result.skipped[key] = found.skipped(key)
                result.skip_reasons[key] = found.skip_reasons[key]
    if "localization" in metrics:
        masks = masks.to(device=saliency.device, dtype=torch.bool)
        energy = energy_in_mask(saliency, masks).cpu()
        hits = pointing_game(saliency, masks).cpu().to(torch.float64)
        result.per_image["energy_in_mask"], result.aggregate["energy_in_mask"] = energy, float(energy.mean())
        result.per_image["pointing_game"], result.aggregate["pointing_game"] = hits, float(hits.mean())
    if "stability" in metrics:
        found = jpeg_stability(
            explain_fn, images, attributions, targets, settings.jpeg_quality, settings.stability_norm
        )
        result.per_image["stability"] = found.per_image
        result.aggregate["stability"] = found.score
        result.details["stability_mse"] = found.mse
        result.details["stability_reference"] = found.reference
    return result
