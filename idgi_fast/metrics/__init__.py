"""Evaluation metrics (docs/semantics.md §6): `evaluate` and its pieces. The per-image oracle
lives in idgi_fast.reference.metrics; the batched fast path here is tested against it."""

from ..reference.metrics import (
    aggregate_curves,
    blur_bokeh,
    curve_auc,
    curve_scores,
    deletion_images,
    insertion_deletion,
    insertion_images,
    pair_bokeh,
    pic_curve,
)
from .evaluate import Evaluation, evaluate
from .localization import energy_in_mask, pointing_game
from .options import DEFAULT_METRICS, METRICS, EvaluationOptions
from .pic import pic_curves
from .stability import attribution_function, jpeg_round_trip, jpeg_stability, result_stability
from .steps import StepSensitivity, evaluate_steps, step_sensitivity

__all__ = [
    "evaluate",
    "Evaluation",
    "EvaluationOptions",
    "METRICS",
    "DEFAULT_METRICS",
    "insertion_deletion",
    "insertion_images",
    "deletion_images",
    "curve_scores",
    "pic_curves",
    "blur_bokeh",
    "pair_bokeh",
    "pic_curve",
    "curve_auc",
    "aggregate_curves",
    "energy_in_mask",
    "pointing_game",
    "jpeg_stability",
    "jpeg_round_trip",
    "attribution_function",
    "result_stability",
    "evaluate_steps",
    "step_sensitivity",
    "StepSensitivity",
]
