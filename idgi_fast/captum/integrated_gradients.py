"""Drop-ins for captum.attr.IntegratedGradients, and IDGI with the same signature."""

from __future__ import annotations

import torch

from ..engine import StraightPath
from ..utils.checks import check_flag, check_positive_int
from .errors import captum_errors
from .forward import GradientAttribution, StraightPathRun
from .quadrature import alphas_and_step_sizes


class IntegratedGradients(GradientAttribution):
    """Drop-in for captum.attr.IntegratedGradients."""

    def attribute(
        self,
        inputs,
        baselines=None,
        target=None,
        additional_forward_args=None,
        n_steps: int = 50,
        method: str = "gausslegendre",
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
    ):
        with captum_errors():
            check_flag("return_convergence_delta", return_convergence_delta)
            alphas, step_sizes = alphas_and_step_sizes(n_steps, method)
        run = StraightPathRun(
            self.forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size
        )
        weights = torch.tensor(step_sizes, dtype=torch.float64)
        path = StraightPath(
            run.flat_inputs,
            run.flat_baselines,
            torch.tensor(alphas, dtype=torch.float64),
            lambda js, stride: weights.to(js.device)[js],
            multiply=self.multiply_by_inputs,
        )
        base, _, _, _ = run.stream(path, idgi=False)
        return run.finish(base[path.steps], None, return_convergence_delta)


class IDGI(GradientAttribution):
    """IDGI (docs/semantics.md §2) in the same shape: the uniform path with n_steps intervals,
    Σ_j g_j² (F_{j+1} − F_j) / Σ g_j², the sums over every element of every input of an example.
    Its attributions carry F's differences, so it multiplies by inputs as far as Captum's
    `multiplies_by_inputs` goes (always True here)."""

    def __init__(self, forward_func):
        super().__init__(forward_func, multiply_by_inputs=True)

    def attribute(
        self,
        inputs,
        baselines=None,
        target=None,
        additional_forward_args=None,
        n_steps: int = 50,
        internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
    ):
        with captum_errors():
            check_flag("return_convergence_delta", return_convergence_delta)
            check_positive_int("n_steps", n_steps)
        run = StraightPathRun(
            self.forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size
        )
        path = StraightPath.uniform(run.flat_inputs, run.flat_baselines, n_steps, "pair")
        _, important, outputs, _ = run.stream(path, idgi=True)
        flat = important[n_steps]
        # F at both ends came from the path itself
        delta = flat.sum(dim=1) - (outputs[:, -1] - outputs[:, 0]).to(flat.dtype)
        return run.finish(flat, delta, return_convergence_delta)
