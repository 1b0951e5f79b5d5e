"""Step sensitivity (docs/semantics.md §6): how much each score moves between two step counts, from
the attributions of one `compute_at` run (the study compared 8 and 128 steps)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .evaluate import Evaluation, evaluate
from .options import DEFAULT_METRICS


@dataclass
class StepSensitivity:
    """evaluations: one Evaluation per step count. difference / per_image: score(high) − score(low)."""

    low: int
    high: int
    evaluations: dict[int, Evaluation]
    difference: dict[str, float]
    per_image: dict[str, torch.Tensor]


def step_sensitivity(evaluations: dict[int, Evaluation], low: int, high: int) -> StepSensitivity:
    """Differences of every score present at both counts (aggregates and per image)."""
    for count in (low, high):
        if count not in evaluations:
            raise ValueError(f"no evaluation for steps={count}; evaluations hold {sorted(evaluations)}")
    first, second = evaluations[low], evaluations[high]
    shared = [key for key in second.aggregate if key in first.aggregate]
    return StepSensitivity(
        low,
        high,
        dict(evaluations),
        {key: second.aggregate[key] - first.aggregate[key] for key in shared},
        {key: second.per_image[key] - first.per_image[key] for key in shared},
    )


def evaluate_steps(
    model,
    images: torch.Tensor,
    result,
    target=None,
    counts: tuple[int, int] | None = None,
    idgi: bool = True,
    metrics=DEFAULT_METRICS,
    **options,
) -> StepSensitivity:
    """Evaluate the attributions of `result` (an ExplainResult run with compute_at) at two step counts.

    counts defaults to the smallest and largest count the result holds. `target` defaults to
    the classes the result explained.
    """
    held = result.idgi if idgi else result.base
    if not isinstance(held, dict) or len(held) < 2:
        raise ValueError(
            "step sensitivity needs attributions at two step counts: run explain(..., compute_at=[8, …])"
        )
    low, high = counts if counts is not None else (min(held), max(held))
    for count in (low, high):
        if count not in held:
            raise ValueError(f"no attribution for steps={count}; the result holds step counts {sorted(held)}")
    if target is None:
        target = result.targets
    evaluations = {
        count: evaluate(model, images, held[count], target, metrics, **options) for count in (low, high)
    }
    return step_sensitivity(evaluations, low, high)
