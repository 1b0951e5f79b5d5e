"""Blur IG, literally (docs/semantics.md §4): gradients at G_σi(x), forward differences dX_i."""

from __future__ import annotations

import torch

from ..geometry import blur_sigmas, gaussian_blur
from .evaluation import ReferenceOutputs
from .idgi import idgi_from_path


def blur_ig(
    evaluator: ReferenceOutputs,
    inputs: torch.Tensor,
    steps: int,
    counts: list[int],
    idgi: bool,
    max_sigma: float,
    grad_step: float,
    sqrt: bool,
    padding: str,
    positions: torch.Tensor | None = None,
):
    sigmas = blur_sigmas(steps, max_sigma, sqrt, positions)
    # σ_m (the baseline) is only needed for IDGI's gradient at the most blurred point.
    evaluated = range(steps + 1) if idgi else range(steps)
    outputs = torch.full((inputs.shape[0], steps + 1), float("nan"), dtype=inputs.dtype, device=inputs.device)
    gradients: dict[int, torch.Tensor] = {}
    slopes: dict[int, torch.Tensor] = {}
    # Points and forward differences are formed in float64 and rounded once: dX subtracts two
    # nearly equal images, and rounding them to float32 first would cost ~4 digits of dX.
    inputs64 = inputs.to(torch.float64)
    for i in evaluated:
        blurred = gaussian_blur(inputs64, sigmas[i], padding)
        f, g = evaluator.gradient(blurred.to(inputs.dtype), i)
        outputs[:, i] = f
        gradients[i] = g
        if i < steps:
            slope = (gaussian_blur(inputs64, sigmas[i] + grad_step, padding) - blurred) / grad_step
            slopes[i] = slope.to(inputs.dtype)

    base, important = {}, {}
    for n in counts:
        stride = steps // n
        total = torch.zeros_like(inputs)
        for i in range(0, steps, stride):
            total += (sigmas[i + stride] - sigmas[i]) * slopes[i] * gradients[i]
        base[n] = -total
        if idgi:
            # baseline → input order: p_j = G_{σ_(n−j)·stride}(x)
            order = list(range(steps, -1, -stride))
            important[n] = idgi_from_path([gradients[i] for i in order[:-1]], outputs[:, order])
    outputs_path = outputs.flip(dims=[1])
    return base, (important if idgi else None), outputs_path
