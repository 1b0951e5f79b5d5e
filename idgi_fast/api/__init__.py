"""The public attribution API: `explain` and its result, `gradient_shap`, and the Captum-shaped
classes over `explain` (for Captum's own signatures, see idgi_fast.captum)."""

from .classes import IG, BlurIG, GuidedIG
from .explain import backend_runner, explain
from .gradient_shap import gradient_shap
from .result import ExplainResult

__all__ = [
    "BlurIG",
    "ExplainResult",
    "GuidedIG",
    "IG",
    "backend_runner",
    "explain",
    "gradient_shap",
]
