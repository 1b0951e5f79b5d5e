"""Captum's five quadrature rules for Integrated Gradients: each rule's α positions and weights."""

from __future__ import annotations

import numpy as np
import torch

from ..utils.checks import check_positive_int

METHODS = ("riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def alphas_and_step_sizes(n_steps: int, method: str) -> tuple[list[float], list[float]]:
    """Where on the straight path the gradients are taken, and each one's weight — Captum's
    definitions, so that results agree to the last digits.

    Riemann rules take n ≥ 2 points of weight 1/n (the trapezoid halves its two ends, so its
    weights sum to 1 − 1/n, as in Captum), placed with float32 `torch.linspace` and weighted in
    float32, as Captum does:
    left 0 … 1 − 1/n, right 1/n … 1, middle 1/(2n) … 1 − 1/(2n), trapezoid 0 … 1.
    Gauss-Legendre takes numpy's n nodes and weights, mapped from [−1, 1] to [0, 1] (nodes in
    float64, weights in float32 as Captum applies them).
    """
    check_positive_int("n_steps", n_steps)
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return [float(a) for a in (nodes + 1) / 2], torch.tensor(weights / 2, dtype=torch.float32).tolist()
    ends = {
        "riemann_left": (0.0, 1 - 1 / n_steps),
        "riemann_right": (1 / n_steps, 1.0),
        "riemann_middle": (1 / (2 * n_steps), 1 - 1 / (2 * n_steps)),
        "riemann_trapezoid": (0.0, 1.0),
    }
    if method not in ends:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if n_steps < 2:
        raise ValueError(f"{method} needs n_steps ≥ 2")
    alphas = torch.linspace(*ends[method], n_steps, dtype=torch.float32).tolist()
    weights = [1.0 / n_steps] * n_steps
    if method == "riemann_trapezoid":
        weights[0] /= 2
        weights[-1] /= 2
    return alphas, torch.tensor(weights, dtype=torch.float32).tolist()  # Captum applies them as float32
