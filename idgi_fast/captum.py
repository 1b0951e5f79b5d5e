"""Captum-compatible Integrated Gradients (and an IDGI class of the same shape) on our streaming path.

`from idgi_fast.captum import IntegratedGradients` replaces `from captum.attr import
IntegratedGradients`: the same constructor and `attribute` signature and the same results —
Captum's five approximation methods, tensor or tuple inputs, baselines, target forms,
`additional_forward_args`, `internal_batch_size`, `multiply_by_inputs` and the convergence
delta. Unlike Captum, the scaled inputs are never all built at once: both classes run on the
package's streaming engine (engine/stream.py), which sends `internal_batch_size` path points
through the forward function at a time and folds their gradients into the running sums at
once, so memory does not grow with `n_steps`. Tuple inputs travel through the engine as one
flat row per example and are split back into their shapes for the forward function. The
explained output is the forward function's raw output at the target, as in Captum.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import torch

from .engine import StraightPath, stream_path
from .methods import check_flag
from .ops.backends import resolve_backend
from .outputs import check_path_finite, full_float32, no_input_gradient, point_finite
from .validation import check_finite, check_model, resolve_batch_size

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
        raise ValueError(
            f"baselines has {len(baselines)} entries for {len(inputs)} inputs; give one per input"
        )
    resolved = []
    for x, b in zip(inputs, baselines):
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            resolved.append(torch.full_like(x, float(b)))
        elif isinstance(b, torch.Tensor):
            try:
                resolved.append(torch.broadcast_to(b.to(device=x.device, dtype=x.dtype), x.shape).clone())
            except RuntimeError:
                raise ValueError(
                    f"a baseline of shape {tuple(b.shape)} does not broadcast to its input's "
                    f"shape {tuple(x.shape)}"
                ) from None
        else:
            raise TypeError(f"each baseline must be a number or a tensor, got {type(b).__name__}")
    return tuple(resolved)


def _check_index(index, shape: torch.Size, target) -> None:
    """One example's target (an int, or a tuple of ints) against the shape of one example's output."""
    parts = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in parts):
        raise TypeError(f"target entries must be ints or tuples of ints, got {index!r}")
    if len(parts) > len(shape) or any(not -n <= i < n for i, n in zip(parts, shape)):
        raise ValueError(
            f"target {target!r} is out of range for the forward function's output of shape "
            f"(B, {', '.join(map(str, shape))}); pick indices within it"
        )


def _check_target(target, shape: torch.Size, n_examples: int) -> None:
    """Every target form of Captum against the per-example output `shape`, before indexing (an
    out-of-range index on a GPU is a device-side assert, not an error)."""
    if target is None:
        return
    if isinstance(target, torch.Tensor):
        if target.is_floating_point() or target.dtype == torch.bool:
            raise TypeError(f"target must hold integers (class indices), got dtype {target.dtype}")
        target = target.tolist()
    if isinstance(target, (int, tuple)):
        _check_index(target, shape, target)
        return
    if isinstance(target, Sequence) and not isinstance(target, str) and len(target) == n_examples:
        for entry in target:
            _check_index(entry, shape, target)
        return
    raise ValueError(
        f"target must be None, an int, a tuple, or one int/tuple per example ({n_examples}); got {target!r}"
    )


def _select(output: torch.Tensor, target, images: torch.Tensor, n_examples: int) -> torch.Tensor:
    """The explained value of each row of `output` (row r is a point of example images[r]),
    by Captum's target forms."""
    if target is None:
        if output.ndim > 1 and output[0].numel() != 1:
            raise ValueError(
                f"target=None needs one output per example; the forward function returned shape "
                f"{tuple(output.shape)}: pass a target"
            )
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
        per_row = [target[i] for i in images.tolist()]
        if all(isinstance(t, int) for t in per_row):
            return output[rows, torch.tensor(per_row, device=output.device)]
        return torch.stack([output[(i, *t)] for i, t in enumerate(per_row)])
    raise ValueError(
        f"target must be None, an int, a tuple, or one int/tuple per example ({n_examples}); got {target!r}"
    )


class _FlatForward:
    """The forward function over flat rows: each row (one path point of example images[r]) is
    split into the inputs' shapes, `additional_forward_args` that hold one entry per example
    follow their rows, and the target picks the explained value. Called by the engine with
    a chunk of points; returns F (N,) and ∂F/∂row (N, D)."""

    def __init__(self, forward_func, inputs: tuple[torch.Tensor, ...], target, additional_forward_args):
        self.forward_func, self.target = forward_func, target
        self.n = inputs[0].shape[0]
        self.shapes = [x.shape[1:] for x in inputs]
        self.sizes = [x[0].numel() for x in inputs]
        args = additional_forward_args
        self.args = () if args is None else (args if isinstance(args, tuple) else (args,))
        self.target_checked = False

    def flatten(self, tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return torch.cat([t.reshape(t.shape[0], -1) for t in tensors], dim=1)

    def values(self, rows: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        parts = rows.split(self.sizes, dim=1)
        tensors = [part.reshape(len(images), *shape) for part, shape in zip(parts, self.shapes)]
        args = [
            a[images] if isinstance(a, torch.Tensor) and a.ndim > 0 and a.shape[0] == self.n else a
            for a in self.args
        ]
        output = self.forward_func(*tensors, *args)
        if not isinstance(output, torch.Tensor):
            raise TypeError(
                f"forward_func must return a tensor (B, ...) of scores; it returned {type(output).__name__}. "
                "Wrap it so that it returns the tensor to explain, e.g. lambda x: model(x)[0]."
            )
        if not output.is_floating_point():
            raise TypeError(f"forward_func must return floating-point scores, got {output.dtype}")
        if output.device != rows.device:
            raise ValueError(
                f"forward_func returned its output on {output.device} for inputs on {rows.device}; keep "
                "the model and its output on the inputs' device"
            )
        if not self.target_checked:
            _check_target(self.target, output.shape[1:], self.n)
            self.target_checked = True
        return _select(output, self.target, images, self.n)

    def __call__(self, rows: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.enable_grad():
            leaf = rows.detach().requires_grad_(True)
            values = self.values(leaf, images)
            gradient = None
            if values.requires_grad:
                (gradient,) = torch.autograd.grad(values.sum(), leaf, allow_unused=True)
        if gradient is None:
            raise no_input_gradient("forward_func")
        return values.detach(), gradient


class _StraightPathRun:
    """The checked arguments of one `attribute` call, as flat rows for the engine."""

    def __init__(self, forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size):
        inputs, self.is_tuple = _as_tuple(inputs)
        self.inputs = tuple(x.detach() for x in inputs)
        self.baselines = _baselines(baselines, self.inputs)
        if any(x.shape[0] != self.inputs[0].shape[0] for x in self.inputs):
            raise ValueError("every input must have the same batch size (first dimension)")
        if len({x.dtype for x in self.inputs}) > 1 or not self.inputs[0].is_floating_point():
            raise TypeError(f"inputs must share one floating dtype, got {[x.dtype for x in self.inputs]}")
        if self.inputs[0].shape[0] == 0:
            raise ValueError("inputs is an empty batch (first dimension 0); pass at least one example")
        for x, b in zip(self.inputs, self.baselines):
            check_finite(x, "inputs")
            check_finite(b, "baselines")
        check_model(forward_func, self.inputs[0], name="forward_func")
        self.forward = _FlatForward(forward_func, self.inputs, target, additional_forward_args)
        self.flat_inputs = self.forward.flatten(self.inputs)
        self.flat_baselines = self.forward.flatten(self.baselines)
        device = self.flat_inputs.device
        self.batch_size = resolve_batch_size(internal_batch_size, device, name="internal_batch_size")
        self.backend = resolve_backend("auto", self.flat_inputs)

    def stream(self, path: StraightPath, idgi: bool):
        with full_float32():
            return stream_path(path, self.forward, [path.steps], idgi, self.batch_size, self.backend)

    def unflatten(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [part.reshape(x.shape) for part, x in zip(flat.split(self.forward.sizes, dim=1), self.inputs)]

    def endpoint_difference(self) -> torch.Tensor:
        everyone = torch.arange(self.forward.n, device=self.flat_inputs.device)
        with torch.no_grad(), full_float32():
            return self.forward.values(self.flat_inputs, everyone) - self.forward.values(
                self.flat_baselines, everyone
            )

    def finish(self, flat: torch.Tensor, delta, return_convergence_delta: bool):
        attributions = self.unflatten(flat)
        result = tuple(attributions) if self.is_tuple else attributions[0]
        if not return_convergence_delta:
            return result
        if delta is None:
            delta = flat.sum(dim=1) - self.endpoint_difference()
        return result, delta


class _GradientAttribution:
    """What Captum's gradient attributions share: a forward function, `multiply_by_inputs`
    (attribution = gradient term × (input − baseline), or the gradient term alone) and a
    convergence delta."""

    def __init__(self, forward_func, multiply_by_inputs: bool = True):
        if not callable(forward_func):
            raise TypeError("forward_func must be callable")
        self.forward_func = forward_func
        self.multiply_by_inputs = check_flag("multiply_by_inputs", multiply_by_inputs)

    @property
    def multiplies_by_inputs(self) -> bool:
        return self.multiply_by_inputs

    def has_convergence_delta(self) -> bool:
        return True


class IntegratedGradients(_GradientAttribution):
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
        check_flag("return_convergence_delta", return_convergence_delta)
        run = _StraightPathRun(
            self.forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size
        )
        alphas, step_sizes = alphas_and_step_sizes(n_steps, method)
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


class IDGI:
    """IDGI (docs/semantics.md §2) in the same shape: the uniform path with n_steps intervals,
    Σ_j g_j² (F_{j+1} − F_j) / Σ g_j², the sums over every element of every input of an example."""

    def __init__(self, forward_func):
        if not callable(forward_func):
            raise TypeError("forward_func must be callable")
        self.forward_func = forward_func

    def has_convergence_delta(self) -> bool:
        return True

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
        check_flag("return_convergence_delta", return_convergence_delta)
        run = _StraightPathRun(
            self.forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size
        )
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise ValueError(f"n_steps must be an int ≥ 1, got {n_steps!r}")
        path = StraightPath.uniform(run.flat_inputs, run.flat_baselines, n_steps, "pair")
        _, important, outputs, _ = run.stream(path, idgi=True)
        flat = important[n_steps]
        # F at both ends came from the path itself
        delta = flat.sum(dim=1) - (outputs[:, -1] - outputs[:, 0]).to(flat.dtype)
        return run.finish(flat, delta, return_convergence_delta)


NT_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


def _stdevs(stdevs, n_inputs: int) -> tuple[float, ...]:
    """Captum's `stdevs`: one number for every input or a tuple of one per input, each ≥ 0."""
    stdevs = stdevs if isinstance(stdevs, tuple) else (stdevs,) * n_inputs
    if len(stdevs) != n_inputs or any(
        isinstance(s, bool) or not isinstance(s, numbers.Real) or not 0 <= float(s) < np.inf for s in stdevs
    ):
        raise ValueError(
            f"stdevs must be a finite number ≥ 0 or a tuple of one per input ({n_inputs}); got {stdevs!r}"
        )
    return stdevs


def _repeat_examples(value, n_examples: int, times: int):
    """A per-example argument (a tensor or list with one entry per example) for `times` noisy
    copies of every example, each copy beside its example; anything else is shared as it is."""
    if isinstance(value, torch.Tensor) and value.ndim > 0 and value.shape[0] == n_examples:
        return value.repeat_interleave(times, dim=0)
    if isinstance(value, list) and len(value) == n_examples:
        return [entry for entry in value for _ in range(times)]
    return value


class NoiseTunnel:
    """Captum's NoiseTunnel over this module's IntegratedGradients or IDGI (docs/semantics.md §9
    for the three types): `attribute(inputs, nt_type, nt_samples, nt_samples_batch_size, stdevs,
    **kwargs)` with Captum's signature and results.

    The noise is drawn from torch's global generator exactly as Captum draws it (per batch of
    samples, per input, N(0, stdev²) in the default float dtype, every example's copies side by
    side), so the same `torch.manual_seed` gives Captum's noise and Captum's result. Samples run
    `nt_samples_batch_size` at a time (all at once when None, as in Captum), each batch through
    the wrapped class's streaming engine, so memory grows with that batch, not with `nt_samples`
    or `n_steps`.
    """

    def __init__(self, attribution_method):
        if not isinstance(attribution_method, (IntegratedGradients, IDGI)):
            raise TypeError(
                "attribution_method must be an idgi_fast.captum IntegratedGradients or IDGI; got "
                f"{type(attribution_method).__name__}"
            )
        self.attribution_method = attribution_method

    def has_convergence_delta(self) -> bool:
        return True

    def attribute(
        self,
        inputs,
        nt_type: str = "smoothgrad",
        nt_samples: int = 5,
        nt_samples_batch_size: int | None = None,
        stdevs=1.0,
        draw_baseline_from_distrib: bool = False,
        **kwargs,
    ):
        if nt_type not in NT_TYPES:
            raise ValueError(f"nt_type must be one of {NT_TYPES}, got {nt_type!r}")
        for name, value in (("nt_samples", nt_samples), ("nt_samples_batch_size", nt_samples_batch_size)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int ≥ 1, got {value!r}")
        if check_flag("draw_baseline_from_distrib", draw_baseline_from_distrib):
            raise ValueError(
                "draw_baseline_from_distrib draws baselines at random, which IntegratedGradients and IDGI "
                "do not do; give the baselines"
            )
        tensors, is_tuple = _as_tuple(inputs)
        for tensor in tensors:
            check_finite(tensor, "inputs")  # before the noise copies it
        stdevs = _stdevs(stdevs, len(tensors))
        n_examples = tensors[0].shape[0]
        per_batch = nt_samples if nt_samples_batch_size is None else min(nt_samples, nt_samples_batch_size)
        batches = [per_batch] * (nt_samples // per_batch) + (
            [nt_samples % per_batch] if nt_samples % per_batch else []
        )
        delta_wanted = bool(kwargs.get("return_convergence_delta", False))
        totals = squares = None
        deltas = []
        for size in batches:
            with torch.no_grad():
                noisy = tuple(
                    x.repeat_interleave(size, dim=0)
                    + torch.normal(
                        0.0, torch.full((n_examples * size, *x.shape[1:]), float(s), device=x.device)
                    )
                    for x, s in zip(tensors, stdevs)
                )
            options = {
                key: (
                    tuple(_repeat_examples(v, n_examples, size) for v in value)
                    if key in ("baselines", "additional_forward_args") and isinstance(value, tuple)
                    else _repeat_examples(value, n_examples, size)
                )
                for key, value in kwargs.items()
            }
            found = self.attribution_method.attribute(noisy if is_tuple else noisy[0], **options)
            if delta_wanted:
                found, delta = found
                deltas.append(delta)
            found = found if isinstance(found, tuple) else (found,)
            grouped = [a.reshape(n_examples, size, *a.shape[1:]) for a in found]
            batch_totals = [a.sum(dim=1) for a in grouped]
            batch_squares = [(a * a).sum(dim=1) for a in grouped]
            if totals is None:
                totals, squares = batch_totals, batch_squares
            else:
                totals = [t + b for t, b in zip(totals, batch_totals)]
                squares = [t + b for t, b in zip(squares, batch_squares)]
        means = [t * (1 / nt_samples) for t in totals]
        mean_squares = [t * (1 / nt_samples) for t in squares]
        if nt_type == "smoothgrad":
            reduced = means
        elif nt_type == "smoothgrad_sq":
            reduced = mean_squares
        else:
            reduced = [sq - m * m for m, sq in zip(means, mean_squares)]
        result = tuple(reduced) if is_tuple else reduced[0]
        return (result, torch.cat(deltas)) if delta_wanted else result


class GradientShap(_GradientAttribution):
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
        check_flag("return_convergence_delta", return_convergence_delta)
        tensors, is_tuple = _as_tuple(inputs)
        tensors = tuple(x.detach() for x in tensors)
        if callable(baselines):
            baselines = baselines(*tensors)
        baselines = baselines if isinstance(baselines, tuple) else (baselines,)
        if len(baselines) != len(tensors) or any(
            not isinstance(b, torch.Tensor) or b.ndim == 0 or b.shape[1:] != x.shape[1:] or b.shape[0] == 0
            for b, x in zip(baselines, tensors)
        ):
            raise ValueError(
                "baselines must be a distribution of baselines: one tensor per input, (K, …) rows shaped "
                "like one example of that input, K ≥ 1"
            )
        if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
            raise ValueError(f"n_samples must be an int ≥ 1, got {n_samples!r}")
        for name, group in (("inputs", tensors), ("baselines", baselines)):
            for tensor in group:
                check_finite(tensor, name)
        stdevs = _stdevs(stdevs, len(tensors))
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
        args = additional_forward_args
        if isinstance(args, tuple):
            args = tuple(_repeat_examples(a, n_examples, n_samples) for a in args)
        else:
            args = _repeat_examples(args, n_examples, n_samples)
        target = _repeat_examples(target, n_examples, n_samples)
        # one gradient per point, `internal_batch_size` points per call: no path to integrate
        run = _StraightPathRun(self.forward_func, points, None, target, args, internal_batch_size)
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
        ends = _StraightPathRun(self.forward_func, noisy, chosen, target, args, internal_batch_size)
        return result, flat.sum(dim=1) - ends.endpoint_difference()
