"""Captum-compatible Integrated Gradients (and an IDGI class of the same shape) on our streaming path.

`from idgi_fast.captum import IntegratedGradients` replaces `from captum.attr import
IntegratedGradients`: the same constructor and `attribute` signature and the same results —
Captum's five approximation methods, tensor or tuple inputs, baselines, target forms,
`additional_forward_args`, `internal_batch_size`, `multiply_by_inputs` and the convergence
delta. Unlike Captum, the scaled inputs are never all built at once: steps go through the
model in chunks of `internal_batch_size` examples and their gradients are folded into the
running sums at once, so memory does not grow with `n_steps`. The explained output is the
forward function's raw output at the target, as in Captum.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .engine import default_batch_size
from .outputs import full_float32
from .profiling import annotate

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
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an int ≥ 1, got {n_steps!r}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n_steps)
        return [float(a) for a in (nodes + 1) / 2], torch.tensor(weights / 2, dtype=torch.float32).tolist()
    ends = {"riemann_left": (0.0, 1 - 1 / n_steps), "riemann_right": (1 / n_steps, 1.0),
            "riemann_middle": (1 / (2 * n_steps), 1 - 1 / (2 * n_steps)), "riemann_trapezoid": (0.0, 1.0)}
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


def _as_tuple(inputs) -> tuple[tuple[torch.Tensor, ...], bool]:
    if isinstance(inputs, torch.Tensor):
        return (inputs,), False
    if isinstance(inputs, tuple) and inputs and all(isinstance(t, torch.Tensor) for t in inputs):
        return inputs, True
    raise TypeError(f"inputs must be a tensor or a non-empty tuple of tensors, got {type(inputs).__name__}")


def _baselines(baselines, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    if baselines is None:
        return tuple(torch.zeros_like(x) for x in inputs)
    if not isinstance(baselines, tuple):
        baselines = (baselines,)
    if len(baselines) != len(inputs):
        raise ValueError(f"baselines has {len(baselines)} entries for {len(inputs)} inputs; give one per input")
    resolved = []
    for x, b in zip(inputs, baselines):
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            resolved.append(torch.full_like(x, float(b)))
        elif isinstance(b, torch.Tensor):
            try:
                resolved.append(torch.broadcast_to(b.to(device=x.device, dtype=x.dtype), x.shape).clone())
            except RuntimeError:
                raise ValueError(f"a baseline of shape {tuple(b.shape)} does not broadcast to its input's "
                                 f"shape {tuple(x.shape)}") from None
        else:
            raise TypeError(f"each baseline must be a number or a tensor, got {type(b).__name__}")
    return tuple(resolved)


def _select(output: torch.Tensor, target, n_examples: int, repeats: int) -> torch.Tensor:
    """The explained value of each row of `output` (repeats × n_examples rows), Captum's target forms."""
    if target is None:
        if output.ndim > 1 and output[0].numel() != 1:
            raise ValueError(f"target=None needs one output per example; the forward function returned shape "
                             f"{tuple(output.shape)}: pass a target")
        return output.reshape(output.shape[0])
    if isinstance(target, torch.Tensor) and target.ndim == 0:
        target = int(target)
    if isinstance(target, int) and not isinstance(target, bool):
        return output[:, target]
    if isinstance(target, tuple):
        return output[(slice(None), *target)]
    if isinstance(target, torch.Tensor):
        target = target.tolist()
    if isinstance(target, Sequence) and len(target) == n_examples:
        rows = torch.arange(output.shape[0], device=output.device)
        per_row = list(target) * repeats
        if all(isinstance(t, int) for t in per_row):
            return output[rows, torch.tensor(per_row, device=output.device)]
        return torch.stack([output[(i, *t)] for i, t in enumerate(per_row)])
    raise ValueError(f"target must be None, an int, a tuple, or one int/tuple per example ({n_examples}); "
                     f"got {target!r}")


def _expand_args(additional_forward_args, n_examples: int, repeats: int) -> tuple:
    if additional_forward_args is None:
        return ()
    args = additional_forward_args if isinstance(additional_forward_args, tuple) else (additional_forward_args,)
    return tuple(torch.cat([a] * repeats) if isinstance(a, torch.Tensor) and a.ndim > 0 and a.shape[0] == n_examples
                 else a for a in args)


class _StraightPathStream:
    """Forward + backward over chunks of path points α, for tuple inputs, with the explained values."""

    def __init__(self, forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size):
        self.forward_func, self.inputs, self.baselines = forward_func, inputs, baselines
        self.target, self.args = target, additional_forward_args
        self.n = inputs[0].shape[0]
        if any(x.shape[0] != self.n for x in inputs):
            raise ValueError("every input must have the same batch size (first dimension)")
        chunk = internal_batch_size or default_batch_size(inputs[0].device)
        self.steps_per_chunk = max(1, chunk // self.n)

    def values(self, points: tuple[torch.Tensor, ...], repeats: int) -> torch.Tensor:
        output = self.forward_func(*points, *_expand_args(self.args, self.n, repeats))
        return _select(output, self.target, self.n, repeats)

    def chunks(self, alphas: list[float]):
        """Yield (indices into alphas, F (k, N), gradients per input (k, N, …)) chunk by chunk."""
        for start in range(0, len(alphas), self.steps_per_chunk):
            chosen = list(range(start, min(start + self.steps_per_chunk, len(alphas))))
            with annotate("path points"):
                points = []
                for x, b in zip(self.inputs, self.baselines):
                    a = torch.tensor([alphas[i] for i in chosen], dtype=x.dtype, device=x.device)
                    a = a.view(-1, *([1] * x.ndim))
                    points.append((b[None] + a * (x - b)[None]).reshape(len(chosen) * self.n, *x.shape[1:])
                                  .requires_grad_(True))
            with annotate("forward+backward"), torch.enable_grad():
                values = self.values(tuple(points), len(chosen))
                grads = torch.autograd.grad(values.sum(), points)
            yield chosen, values.detach().view(len(chosen), self.n), [
                g.view(len(chosen), self.n, *x.shape[1:]) for g, x in zip(grads, self.inputs)]

    def endpoint_difference(self) -> torch.Tensor:
        with torch.no_grad():
            return self.values(self.inputs, 1) - self.values(self.baselines, 1)


def _finish(attributions, is_tuple, delta, stream, return_convergence_delta):
    result = tuple(attributions) if is_tuple else attributions[0]
    if not return_convergence_delta:
        return result
    total = sum(a.flatten(1).sum(dim=1) for a in attributions)
    return result, total - stream.endpoint_difference() if delta is None else delta


class IntegratedGradients:
    """Drop-in for captum.attr.IntegratedGradients."""

    def __init__(self, forward_func, multiply_by_inputs: bool = True):
        if not callable(forward_func):
            raise TypeError("forward_func must be callable")
        self.forward_func = forward_func
        self.multiply_by_inputs = multiply_by_inputs

    @property
    def multiplies_by_inputs(self) -> bool:
        return self.multiply_by_inputs

    def has_convergence_delta(self) -> bool:
        return True

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, n_steps: int = 50,
                  method: str = "gausslegendre", internal_batch_size: int | None = None,
                  return_convergence_delta: bool = False):
        inputs, is_tuple = _as_tuple(inputs)
        inputs = tuple(x.detach() for x in inputs)
        baselines = _baselines(baselines, inputs)
        alphas, step_sizes = alphas_and_step_sizes(n_steps, method)
        stream = _StraightPathStream(self.forward_func, inputs, baselines, target, additional_forward_args,
                                     internal_batch_size)
        with full_float32():
            totals = [torch.zeros_like(x) for x in inputs]
            for chosen, _, grads in stream.chunks(alphas):
                with annotate("accumulate"):
                    weights = [step_sizes[i] for i in chosen]
                    for total, g in zip(totals, grads):
                        w = torch.tensor(weights, dtype=g.dtype, device=g.device).view(-1, *([1] * (g.ndim - 1)))
                        total += (w * g).sum(dim=0)
            if self.multiply_by_inputs:
                totals = [t * (x - b) for t, x, b in zip(totals, inputs, baselines)]
            return _finish(totals, is_tuple, None, stream, return_convergence_delta)


class IDGI:
    """IDGI (SEMANTICS.md §2) in the same shape: the uniform path with n_steps intervals,
    Σ_j g_j² (F_{j+1} − F_j) / Σ g_j², the sums over every element of every input of an example."""

    def __init__(self, forward_func):
        if not callable(forward_func):
            raise TypeError("forward_func must be callable")
        self.forward_func = forward_func

    def has_convergence_delta(self) -> bool:
        return True

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, n_steps: int = 50,
                  internal_batch_size: int | None = None, return_convergence_delta: bool = False):
        inputs, is_tuple = _as_tuple(inputs)
        inputs = tuple(x.detach() for x in inputs)
        baselines = _baselines(baselines, inputs)
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be an int ≥ 1, got {n_steps!r}")
        # input → baseline, so F of each interval's far end is known when its gradient arrives
        alphas = [j / n_steps for j in range(n_steps, -1, -1)]
        stream = _StraightPathStream(self.forward_func, inputs, baselines, target, additional_forward_args,
                                     internal_batch_size)
        with full_float32():
            totals = [torch.zeros_like(x) for x in inputs]
            outputs = torch.full((n_steps + 1, stream.n), float("nan"), dtype=torch.float64, device=inputs[0].device)
            for chosen, values, grads in stream.chunks(alphas):
                with annotate("accumulate"):
                    for row, i in enumerate(chosen):
                        j = n_steps - i  # path index, baseline → input
                        outputs[j] = values[row].to(torch.float64)
                        if j == n_steps:
                            continue
                        squares = [g[row] * g[row] for g in grads]
                        norm = sum(s.flatten(1).sum(dim=1) for s in squares).to(torch.float64)
                        usable = torch.isfinite(norm) & (norm > 0)
                        scale = torch.where(usable, (outputs[j + 1] - outputs[j]) / torch.where(usable, norm, 1.0),
                                            0.0)
                        for total, s in zip(totals, squares):
                            total += s * scale.to(s.dtype).view(-1, *([1] * (s.ndim - 1)))
            delta = None
            if return_convergence_delta:  # F at both ends came from the path itself
                total = sum(a.flatten(1).sum(dim=1) for a in totals)
                delta = total - (outputs[n_steps] - outputs[0]).to(total.dtype)
            return _finish(totals, is_tuple, delta, stream, return_convergence_delta)
