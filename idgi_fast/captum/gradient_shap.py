"""Drop-in for captum.attr.GradientShap."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..outputs import check_path_finite, point_finite
from ..runtime.precision import full_float32
from ..utils.checks import check_flag, check_positive_int
from ..validation import check_finite
from .errors import captum_errors
from .expansion import expand_arguments, expand_target
from .forward import GradientAttribution, StraightPathRun, as_tuple, per_input_stdevs


def _distribution(baselines, inputs, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The baselines' rows: a tensor, a tuple of one per input, or a function of no argument or of
    the inputs as given (Captum calls it by its arity) returning either."""
    if callable(baselines):
        try:
            takes_nothing = not inspect.signature(baselines).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            takes_nothing = False
        baselines = baselines() if takes_nothing else baselines(inputs)
    baselines = baselines if isinstance(baselines, tuple) else (baselines,)
    if len(baselines) != len(tensors) or any(
        not isinstance(b, torch.Tensor) or b.ndim == 0 or b.shape[1:] != x.shape[1:] or b.shape[0] == 0
        for b, x in zip(baselines, tensors)
    ):
        raise ValueError(
            "baselines must be a distribution of baselines: one tensor per input, (K, …) rows shaped "
            "like one example of that input, K ≥ 1"
        )
    return baselines


class GradientShap(GradientAttribution):
    """Drop-in for captum.attr.GradientShap: for each example, `n_samples` gradients taken at
    α·(x + ε) + (1 − α)·b with b drawn from the baselines' rows, α ~ U(0, 1) and ε ~ N(0, stdevs²),
    each times (x + ε − b) (the gradient alone with multiply_by_inputs=False), averaged.

    The draws come from the global generators exactly as Captum makes them (numpy's for the
    baseline rows and α, torch's for ε, in Captum's order), so the same seeds give Captum's result.
    The gradients are taken `internal_batch_size` points per call (an argument Captum's
    GradientShap lacks; default validation.default_batch_size); a NaN or Inf F or gradient stops
    the call (outputs.NonFiniteOutput).
    """

    def attribute(
        self,
        inputs,
        baselines,
        n_samples: int = 5,
        stdevs=0.0,
        target=None,
        additional_forward_args=None,
        return_convergence_delta: bool = False,
        internal_batch_size: int | None = None,
    ):
        with captum_errors():
            check_flag("return_convergence_delta", return_convergence_delta)
            tensors, is_tuple = as_tuple(inputs)
            tensors = tuple(x.detach() for x in tensors)
            baselines = _distribution(baselines, inputs, tensors)
            check_positive_int("n_samples", n_samples)
            for name, group in (("inputs", tensors), ("baselines", baselines)):
                for tensor in group:
                    check_finite(tensor, name)
            stdevs = per_input_stdevs(stdevs, len(tensors))
        n_examples, rows = tensors[0].shape[0], tensors[0].shape[0] * n_samples
        with torch.no_grad():
            chosen = tuple(
                b.detach().to(x.dtype)[np.random.choice(b.shape[0], rows).tolist()]
                for b, x in zip(baselines, tensors)
            )
            noisy = tuple(
                x.repeat_interleave(n_samples, dim=0)
                + torch.normal(0.0, torch.full((rows, *x.shape[1:]), float(s), device=x.device))
                for x, s in zip(tensors, stdevs)
            )
            alpha = torch.tensor(
                np.random.uniform(0.0, 1.0, rows), device=tensors[0].device, dtype=tensors[0].dtype
            )
            points = tuple(
                alpha.view(-1, *[1] * (x.ndim - 1)) * x + (1.0 - alpha.view(-1, *[1] * (x.ndim - 1))) * b
                for x, b in zip(noisy, chosen)
            )
        args = expand_arguments(additional_forward_args, n_samples)
        target = expand_target(target, n_samples)
        # one gradient per point, `internal_batch_size` points per call: no path to integrate
        run = StraightPathRun(self.forward_func, points, None, target, args, internal_batch_size)
        flat = torch.empty_like(run.flat_inputs)
        finite = torch.ones((rows, 1), dtype=torch.bool, device=flat.device)
        with full_float32():
            for start in range(0, rows, run.batch_size):
                chunk = torch.arange(start, min(rows, start + run.batch_size), device=flat.device)
                values, flat[chunk] = run.forward(run.flat_inputs[chunk], chunk)
                finite[chunk, 0] = point_finite(values, flat[chunk])
        check_path_finite(finite, None, 0)
        if self.multiply_by_inputs:
            flat = flat * (run.forward.flatten(noisy) - run.forward.flatten(chosen))
        mean = flat.view(n_examples, n_samples, -1).sum(dim=1) * (1 / n_samples)
        attributions = [
            part.reshape(x.shape) for part, x in zip(mean.split(run.forward.sizes, dim=1), tensors)
        ]
        result = tuple(attributions) if is_tuple else attributions[0]
        if not return_convergence_delta:
            return result
        ends = StraightPathRun(self.forward_func, noisy, chosen, target, args, internal_batch_size)
        return result, flat.sum(dim=1) - ends.endpoint_difference()
