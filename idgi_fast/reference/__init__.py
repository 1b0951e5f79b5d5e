"""The oracle: SEMANTICS.md §1–§5 read literally, one model evaluation per path point.

Slow by design and kept plain; every fast backend is tested against it.
"""
from __future__ import annotations

from .blur_ig import blur_ig
from .evaluation import PointEvaluator
from .guided_ig import guided_ig
from .idgi import idgi_from_path
from .ig import integrated_gradients

__all__ = ["run", "blur_ig", "guided_ig", "integrated_gradients", "idgi_from_path", "PointEvaluator"]


def run(model, inputs, baselines, targets, *, method, steps, counts, idgi, output, batch_size, params):
    """(base by count, IDGI by count or None, outputs (B, m+1), points evaluated per image)."""
    evaluator = PointEvaluator(model, targets, output, batch_size)
    if method == "ig":
        result = integrated_gradients(evaluator, inputs, baselines, steps, counts, idgi, params["rule"])
    elif method == "blur_ig":
        result = blur_ig(evaluator, inputs, steps, counts, idgi, **params)
    elif method == "guided_ig":
        result = guided_ig(evaluator, inputs, baselines, steps, idgi, **params)
    else:
        raise ValueError(f"unknown method {method!r}")
    return (*result, evaluator.points_per_image)
