"""`evaluate`'s options, and their checks without images (so a study refuses them before any work)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from ..reference.metrics.insertion import CANVASES
from ..reference.metrics.pic import PAIR_THRESHOLDS, check_pic_options
from ..reference.metrics.road import (
    ROAD_NOISE,
    ROAD_ORDERS,
    ROAD_PERCENTAGES,
    check_road_options,
)
from ..utils.checks import check_flag, check_positive_float
from .common import check_levels
from .stability import STABILITY_NORMS

METRICS = ("insertion", "deletion", "sic", "aic", "localization", "stability", "road")
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
    # ROAD (docs/metrics.md §15)
    road_percentages: tuple[float, ...] = ROAD_PERCENTAGES  # percent of the pixels removed, increasing
    road_noise: float = ROAD_NOISE  # σ of the noise added to imputed pixels (0: none)
    road_seed: int = 0  # seed of the noise field
    road_orders: tuple[str, ...] = ROAD_ORDERS  # morf and/or lerf

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> EvaluationOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown evaluate option(s) {unknown}; valid options are {sorted(known)}")
        options = dict(options)
        if isinstance(options.get("information"), str):
            options["information"] = [options["information"]]
        if isinstance(options.get("road_orders"), str):
            options["road_orders"] = [options["road_orders"]]
        # hashable, and safe from the caller's later edits; a non-sequence is left for its check to name
        for name in ("information", "pair_thresholds", "road_percentages", "road_orders"):
            if name in options and not isinstance(options[name], str):
                try:
                    options[name] = tuple(options[name])
                except TypeError:
                    pass
        return cls(**options)


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
    check_road_options(options.road_percentages, options.road_noise, options.road_seed, options.road_orders)
    if options.pair_random_mask is not None and options.pic_profile != "pair":
        raise ValueError(
            f"pair_random_mask sets the pair profile's random pixels, but pic_profile is "
            f"{options.pic_profile!r}; pass pic_profile='pair' or leave the mask out"
        )
