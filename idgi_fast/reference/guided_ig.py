"""Guided IG, literally (docs/semantics.md §5), with the path logic in float64.

Each image follows its own path; the images' current points are evaluated together at
each step (one point per image per step), which changes no image's result.
"""

from __future__ import annotations

import math

import torch

from .evaluation import ReferenceOutputs
from .idgi import idgi_from_path


def _isclose(a: float, b: float) -> bool:
    # the oracle's own copy of ops/guided_step.CLOSENESS (docs/semantics.md §5): it shares no code
    # with what it checks
    return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-9)


def guided_step(
    x: torch.Tensor,
    x_in: torch.Tensor,
    x_base: torch.Tensor,
    gradient: torch.Tensor,
    distance: float,
    alpha: float,
    fraction: float,
    max_dist: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of one image (flat float64 tensors) towards path position `alpha` (α_(k+1)):
    the new point and the attribution added."""
    lo, hi = max(alpha - max_dist, 0.0), min(alpha + max_dist, 1.0)
    span = x_in - x_base
    x_lo, x_hi = x_base + span * lo, x_base + span * hi
    target = distance * (1.0 - alpha)
    magnitude = gradient.abs()
    n = x.numel()
    rank = math.floor(fraction * (n - 1)) + 1  # kthvalue counts from 1
    attribution = torch.zeros_like(x)
    while True:
        x_old = x
        moving = span != 0
        position = torch.where(
            moving, (x - x_base) / torch.where(moving, span, torch.ones_like(span)), torch.full_like(x, hi)
        )
        x = torch.where(position < lo, x_lo, x)
        current = float((x - x_in).abs().sum())
        if _isclose(current, target):
            attribution += (x - x_old) * gradient
            break
        score = torch.where(x == x_hi, torch.full_like(magnitude, math.inf), magnitude)
        threshold = torch.kthvalue(score, rank).values
        selected = (score <= threshold) & torch.isfinite(score)
        room = float((x - x_hi).abs()[selected].sum())
        if room == 0:
            # Every feature already sits at x_hi: nothing can move any more in this step.
            attribution += (x - x_old) * gradient
            break
        gamma = (current - target) / room
        if gamma > 1:
            x = torch.where(selected, x_hi, x)
        else:
            x = torch.where(selected, x + (x_hi - x) * gamma, x)
        attribution += (x - x_old) * gradient
        if gamma <= 1:
            break
    return x, attribution


def guided_ig(
    evaluator: ReferenceOutputs,
    inputs: torch.Tensor,
    baselines: torch.Tensor,
    steps: int,
    idgi: bool,
    fraction: float,
    max_dist: float,
    positions: torch.Tensor | None = None,
):
    batch = inputs.shape[0]
    x_in = inputs.to(torch.float64).flatten(1)
    x_base = baselines.to(torch.float64).flatten(1)
    distances = [float(d) for d in (x_in - x_base).abs().sum(dim=1)]
    x = x_base.clone()
    attribution = torch.zeros_like(x_in)
    outputs = torch.full((batch, steps + 1), float("nan"), dtype=inputs.dtype, device=inputs.device)
    gradients = []
    for k in range(steps):
        alpha = (k + 1) / steps if positions is None else float(positions[k + 1])
        f, g = evaluator.gradient(x.to(inputs.dtype).view_as(inputs), k)
        outputs[:, k] = f
        gradients.append(g)
        g64 = g.to(torch.float64).flatten(1)
        for b in range(batch):
            if distances[b] == 0:
                continue
            x[b], added = guided_step(
                x[b], x_in[b], x_base[b], g64[b], distances[b], alpha, fraction, max_dist
            )
            attribution[b] += added
    if idgi:
        outputs[:, steps] = evaluator.forward(inputs, steps)
    base = {steps: attribution.view_as(inputs).to(inputs.dtype)}
    important = {steps: idgi_from_path(gradients, outputs)} if idgi else None
    return base, important, outputs
