"""idgi_fast: path attributions (IG, Blur IG, Guided IG, each ± IDGI) at dataset scale."""

from .api import IG, BlurIG, ExplainResult, GuidedIG, explain, gradient_shap
from .metrics import Evaluation, evaluate
from .noise import NoiseSettings
from .saliency import saliency_map

__version__ = "0.1.0"
__all__ = [
    "explain",
    "ExplainResult",
    "gradient_shap",
    "NoiseSettings",
    "IG",
    "BlurIG",
    "GuidedIG",
    "saliency_map",
    "evaluate",
    "Evaluation",
    "__version__",
]
