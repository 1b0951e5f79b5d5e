"""The user's forward function as the engine sees it: tuple inputs flattened into one row per
example, Captum's target forms checked and selected, the straight path's run."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..engine import StraightPath, stream_path
from ..ops.backends import resolve_backend
from ..outputs import no_input_gradient
from ..runtime.precision import full_float32
from ..utils.checks import check_flag
from ..validation import check_finite, check_model, resolve_batch_size
from .errors import CaptumArgumentError, captum_errors


def as_tuple(inputs) -> tuple[tuple[torch.Tensor, ...], bool]:
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


def _as_target(target):
    """A tensor target read once as Captum reads it: one element is one int for every example,
    a 1-D tensor one int per example."""
    if not isinstance(target, torch.Tensor):
        return target
    if target.is_floating_point() or target.dtype == torch.bool:
        raise TypeError(f"target must hold integers (class indices), got dtype {target.dtype}")
    if target.numel() == 1:
        return int(target.item())
    if target.ndim != 1:
        raise CaptumArgumentError(
            f"a tensor target holds one class index or one per example (1-D); got shape {tuple(target.shape)}"
        )
    return target.tolist()


def _check_index(index, shape: torch.Size, target) -> None:
    """One example's target (an int, or a tuple of ints) against the shape of one example's output."""
    parts = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in parts):
        raise TypeError(f"target entries must be ints or tuples of ints, got {index!r}")
    if len(parts) > len(shape) or any(not -n <= i < n for i, n in zip(parts, shape)):
        raise CaptumArgumentError(
            f"target {target!r} is out of range for the forward function's output of shape "
            f"(B, {', '.join(map(str, shape))}); pick indices within it"
        )


def _check_target(target, shape: torch.Size, n_examples: int) -> None:
    """Every target form of Captum against the per-example output `shape`, before indexing (an
    out-of-range index on a GPU is a device-side assert, not an error)."""
    if target is None:
        return
    if isinstance(target, (int, tuple)):
        _check_index(target, shape, target)
        return
    if isinstance(target, list) and len(target) == n_examples:
        for entry in target:
            _check_index(entry, shape, target)
        return
    raise CaptumArgumentError(
        f"target must be None, an int, a tuple, or one int/tuple per example ({n_examples}); got {target!r}"
    )


def _select(output: torch.Tensor, target, images: torch.Tensor) -> torch.Tensor:
    """The part of each row of `output` (row r is a point of example images[r]) that `target`
    names, by Captum's target forms (the whole row for None)."""
    if target is None:
        return output
    if isinstance(target, int):
        return output[:, target]
    if isinstance(target, tuple):
        return output[(slice(None), *target)]
    per_row = [target[i] for i in images.tolist()]
    if all(isinstance(t, int) for t in per_row):
        rows = torch.arange(output.shape[0], device=output.device)
        return output[rows, torch.tensor(per_row, device=output.device)]
    return torch.stack([output[(i, *t)] for i, t in enumerate(per_row)])


def per_input_stdevs(stdevs, n_inputs: int) -> tuple[float, ...]:
    """Captum's `stdevs`: one number for every input or a tuple of one per input, each ≥ 0."""
    stdevs = stdevs if isinstance(stdevs, tuple) else (stdevs,) * n_inputs
    if len(stdevs) != n_inputs or any(
        isinstance(s, bool) or not isinstance(s, numbers.Real) or not 0 <= float(s) < np.inf for s in stdevs
    ):
        raise ValueError(
            f"stdevs must be a finite number ≥ 0 or a tuple of one per input ({n_inputs}); got {stdevs!r}"
        )
    return stdevs


def row_sums(attributions) -> torch.Tensor:
    """Σ of every attribution of each example, input by input (so that a delta computed here
    equals, bit for bit, the one compute_convergence_delta gives for the same attributions)."""
    return sum(a.reshape(a.shape[0], -1).sum(dim=1) for a in attributions)


class _FlatForward:
    """The forward function over flat rows: each row (one path point of example images[r]) is
    split into the inputs' shapes, `additional_forward_args` that hold one entry per example
    follow their rows, and the target picks the explained value. Called by the engine with
    a chunk of points; returns F (N,) and ∂F/∂row (N, D)."""

    def __init__(self, forward_func, inputs: tuple[torch.Tensor, ...], target, additional_forward_args):
        self.forward_func, self.target = forward_func, _as_target(target)
        self.n = inputs[0].shape[0]
        self.shapes = [x.shape[1:] for x in inputs]
        self.sizes = [x[0].numel() for x in inputs]
        args = additional_forward_args
        self.args = () if args is None else (args if isinstance(args, tuple) else (args,))
        self.target_checked = False

    def flatten(self, tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return torch.cat([t.reshape(t.shape[0], -1) for t in tensors], dim=1)

    def outputs(self, rows: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """The part of the forward function's output that the target names, one row per point."""
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
        return _select(output, self.target, images)

    def values(self, rows: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """The explained value F of each point: the target must name one number per example."""
        selected = self.outputs(rows, images)
        if selected[0].numel() != 1:
            if self.target is None:
                raise CaptumArgumentError(
                    f"target=None needs one output per example; the forward function returned shape "
                    f"{tuple(selected.shape)}: pass a target"
                )
            raise CaptumArgumentError(
                f"target {self.target!r} names {tuple(selected.shape[1:])} values of each example's output, "
                "not one: give one index per output dimension after the batch"
            )
        return selected.reshape(selected.shape[0])

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


class StraightPathRun:
    """The checked arguments of one `attribute` call, as flat rows for the engine."""

    def __init__(self, forward_func, inputs, baselines, target, additional_forward_args, internal_batch_size):
        with captum_errors():
            inputs, self.is_tuple = as_tuple(inputs)
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
            self.batch_size = resolve_batch_size(
                internal_batch_size,
                device,
                name="internal_batch_size",
                values_per_item=self.flat_inputs[0].numel(),
            )
            self.backend = resolve_backend("auto", self.flat_inputs)

    def stream(self, path: StraightPath, idgi: bool):
        with full_float32():
            return stream_path(path, self.forward, [path.steps], idgi, self.batch_size, self.backend)

    def unflatten(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [part.reshape(x.shape) for part, x in zip(flat.split(self.forward.sizes, dim=1), self.inputs)]

    def endpoint_difference(self) -> torch.Tensor:
        """F(input) − F(baseline) per example, F the targeted output summed over each example's row
        (a single number wherever the target names one), as Captum's convergence delta takes it."""
        everyone = torch.arange(self.forward.n, device=self.flat_inputs.device)
        with torch.no_grad(), full_float32():
            ends, starts = (
                self.forward.outputs(rows, everyone).reshape(self.forward.n, -1).sum(dim=1)
                for rows in (self.flat_inputs, self.flat_baselines)
            )
            return ends - starts

    def finish(self, flat: torch.Tensor, delta, return_convergence_delta: bool):
        attributions = self.unflatten(flat)
        result = tuple(attributions) if self.is_tuple else attributions[0]
        if not return_convergence_delta:
            return result
        if delta is None:
            delta = row_sums(attributions) - self.endpoint_difference()
        return result, delta


class GradientAttribution:
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

    def attribute_future(self):
        raise NotImplementedError(f"attribute_future is not implemented for {type(self).__name__}")

    def compute_convergence_delta(
        self, attributions, start_point, end_point, target=None, additional_forward_args=None
    ) -> torch.Tensor:
        """Σ attributions − (F(end_point) − F(start_point)) per example (completeness; Captum's
        definition): `start_point` in any baseline form, F the targeted output summed over each
        example's row."""
        run = StraightPathRun(
            self.forward_func, end_point, start_point, target, additional_forward_args, None
        )
        with captum_errors():
            found, _ = as_tuple(attributions)
            if len(found) != len(run.inputs) or any(a.shape[0] != run.forward.n for a in found):
                raise ValueError(
                    f"attributions must be one tensor per end_point input ({len(run.inputs)}), each with "
                    f"the end_point's {run.forward.n} examples; got shapes {[tuple(a.shape) for a in found]}"
                )
        return row_sums(found) - run.endpoint_difference()
