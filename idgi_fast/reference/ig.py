"""Integrated Gradients, literally (docs/semantics.md §3): one evaluation per point p_k, k = 0…m."""

from __future__ import annotations

import torch

from .evaluation import ReferenceOutputs
from .idgi import idgi_from_path


def ig_from_gradients(gradients: list[torch.Tensor], difference: torch.Tensor, rule: str) -> torch.Tensor:
    """The IG estimate over the n + 1 gradients g_0…g_n of a straight path with n intervals."""
    n = len(gradients) - 1
    if rule == "pair":
        return difference * torch.stack(gradients).mean(dim=0)
    if rule == "left":
        total = sum(gradients[:n])
    elif rule == "right":
        total = sum(gradients[1:])
    elif rule == "trapezoid":
        total = gradients[0] / 2 + sum(gradients[1:n], torch.zeros_like(gradients[0])) + gradients[n] / 2
    else:
        raise ValueError(f"unknown IG rule {rule!r}")
    return difference / n * total


def scheduled_ig(
    gradients: list[torch.Tensor], difference: torch.Tensor, positions, rule: str
) -> torch.Tensor:
    """The IG estimate over a schedule's points α_0 … α_m (§3): the left rule Σ_(k<m) g_k Δ_k, the
    right rule Σ_(k≥1) g_k Δ_(k−1), the trapezoid Σ_(k<m) (g_k + g_(k+1))/2 Δ_k, Δ_k = α_(k+1) − α_k."""
    alphas = [float(a) for a in positions]
    m = len(alphas) - 1
    total = torch.zeros_like(gradients[0])
    for k in range(m):
        width = alphas[k + 1] - alphas[k]
        if rule == "left":
            total += gradients[k] * width
        elif rule == "right":
            total += gradients[k + 1] * width
        elif rule == "trapezoid":
            total += (gradients[k] + gradients[k + 1]) * (width / 2)
        else:
            raise ValueError(f"the {rule!r} rule has no schedule form")
    return difference * total


def integrated_gradients(
    evaluator: ReferenceOutputs,
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    steps: int,
    counts: list[int],
    idgi: bool,
    rule: str,
    positions: torch.Tensor | None = None,
):
    difference = inputs - baselines
    outputs, gradients = [], []
    for k in range(steps + 1):
        alpha = k / steps if positions is None else float(positions[k])
        point = baselines + alpha * difference
        f, g = evaluator.gradient(point, k)
        outputs.append(f)
        gradients.append(g)
    outputs_path = torch.stack(outputs, dim=1)
    if positions is not None:  # one count: a schedule has no sub-paths
        base = {steps: scheduled_ig(gradients, difference, positions, rule)}
        important = {steps: idgi_from_path(gradients[:-1], outputs_path)} if idgi else None
        return base, important, outputs_path

    base, important = {}, {}
    for n in counts:
        stride = steps // n
        sub_gradients = gradients[::stride]
        base[n] = ig_from_gradients(sub_gradients, difference, rule)
        if idgi:
            important[n] = idgi_from_path(sub_gradients[:-1], outputs_path[:, ::stride])
    return base, (important if idgi else None), outputs_path
