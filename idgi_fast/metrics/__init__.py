"""Evaluation metrics (SEMANTICS.md §6), reference implementations in plain PyTorch + Pillow."""
from .evaluate import DEFAULT_METRICS, METRICS, Evaluation, EvaluationOptions, evaluate
from .insertion import curve_scores, deletion_images, insertion_deletion, insertion_images
from .localization import energy_in_mask, pointing_game
from .pic import aggregate_curves, blur_bokeh, curve_auc, pair_bokeh, pic_curve, pic_curves
from .stability import attribution_function, jpeg_round_trip, jpeg_stability
from .steps import StepSensitivity, evaluate_steps, step_sensitivity

__all__ = [
    "evaluate", "Evaluation", "EvaluationOptions", "METRICS", "DEFAULT_METRICS",
    "insertion_deletion", "insertion_images", "deletion_images", "curve_scores",
    "pic_curves", "blur_bokeh", "pair_bokeh", "pic_curve", "curve_auc", "aggregate_curves",
    "energy_in_mask", "pointing_game",
    "jpeg_stability", "jpeg_round_trip", "attribution_function",
    "evaluate_steps", "step_sensitivity", "StepSensitivity",
]
