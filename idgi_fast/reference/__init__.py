"""The oracle: docs/semantics.md §1–§6 read literally, one model evaluation per path point and
one image at a time for the metrics.

Slow by design and kept plain; every fast backend is tested against it. The IDGI scale is
written out here again on purpose (idgi.py) rather than taken from the fast path, so that
the two stay independent.
"""

from __future__ import annotations

from .blur_ig import blur_ig
from .evaluation import ReferenceOutputs
from .guided_ig import guided_ig
from .idgi import idgi_from_path
from .ig import integrated_gradients


def _ig(evaluator, inputs, baselines, steps, counts, idgi, params, positions):
    return integrated_gradients(evaluator, inputs, baselines, steps, counts, idgi, params["rule"], positions)


def _blur_ig(evaluator, inputs, baselines, steps, counts, idgi, params, positions):
    return blur_ig(evaluator, inputs, steps, counts, idgi, **params, positions=positions)


def _guided_ig(evaluator, inputs, baselines, steps, counts, idgi, params, positions):
    return guided_ig(evaluator, inputs, baselines, steps, idgi, **params, positions=positions)


# one implementation per registered method (idgi_fast.methods); tests check that none is missing
IMPLEMENTATIONS = {"ig": _ig, "blur_ig": _blur_ig, "guided_ig": _guided_ig}


def run(
    model,
    inputs,
    baselines,
    targets,
    *,
    spec,
    steps,
    counts,
    idgi,
    output,
    batch_size,
    params,
    positions=None,
):
    """(base by count, IDGI by count or None, outputs (B, m+1), points evaluated per image).
    positions: a step schedule's α_0 … α_m (float64), or None for the uniform path."""
    evaluator = ReferenceOutputs(model, targets, output, batch_size, steps)
    result = IMPLEMENTATIONS[spec.name](evaluator, inputs, baselines, steps, counts, idgi, params, positions)
    return (*result, evaluator.points_per_image)


__all__ = [
    "run",
    "blur_ig",
    "guided_ig",
    "integrated_gradients",
    "idgi_from_path",
    "ReferenceOutputs",
    "IMPLEMENTATIONS",
]
