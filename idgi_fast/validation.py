"""Checks of user input, shared by every entry point. Each error names the argument and the fix."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .methods import MethodSpec
from .outputs import OUTPUTS, check_logits

FLOAT_DTYPES = (torch.float32, torch.float64)


def check_inputs(inputs: object, *, image_batch: bool = False, name: str = "inputs") -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, ...); got {type(inputs).__name__}")
    if inputs.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must be float32 or float64, got {inputs.dtype}; convert with {name}.float() "
            "(and use a model of the same dtype)"
        )
    if image_batch and inputs.ndim != 4:
        raise ValueError(
            f"{name} must be an image batch (B, C, H, W) for Blur IG, got shape {tuple(inputs.shape)}; "
            "add the batch axis with unsqueeze(0) for a single image"
        )
    if inputs.ndim < 2:
        raise ValueError(
            f"{name} must have a batch axis first, shape (B, ...); got shape {tuple(inputs.shape)}. "
            "Use unsqueeze(0) for a single example."
        )
    if inputs.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0); pass at least one example")
    check_finite(inputs, name)
    return inputs.detach()  # attributions never join the caller's autograd graph


def check_finite(tensor: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(tensor).all()):
        n_bad = int((~torch.isfinite(tensor)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or Inf value(s); clean or clamp it before explaining")


def resolve_baselines(baselines: object, inputs: torch.Tensor) -> torch.Tensor:
    """None → zeros; a scalar or a tensor broadcastable to inputs → a tensor shaped like inputs."""
    if baselines is None:
        return torch.zeros_like(inputs)
    if isinstance(baselines, (int, float)) and not isinstance(baselines, bool):
        baselines = torch.tensor(float(baselines), dtype=inputs.dtype)
    if not isinstance(baselines, torch.Tensor):
        raise TypeError(f"baselines must be None, a number or a torch.Tensor; got {type(baselines).__name__}")
    if baselines.ndim == inputs.ndim and baselines.shape[0] not in (1, inputs.shape[0]):
        raise ValueError(
            f"baselines has batch size {baselines.shape[0]} but inputs has {inputs.shape[0]}; "
            "pass one baseline per input or a single one (batch size 1) for all"
        )
    try:
        expanded = torch.broadcast_to(baselines, inputs.shape)
    except RuntimeError:
        raise ValueError(
            f"baselines of shape {tuple(baselines.shape)} cannot be broadcast to inputs of shape "
            f"{tuple(inputs.shape)}; give it the inputs' shape or a broadcastable one such as (1, C, 1, 1)"
        ) from None
    check_finite(expanded, "baselines")
    return expanded.detach().to(device=inputs.device, dtype=inputs.dtype).clone()


def resolve_targets(
    target: object, model, inputs: torch.Tensor, batch_size: int | None = None
) -> torch.Tensor:
    """A (B,) int64 tensor of classes; None means the model's argmax on the inputs."""
    batch = inputs.shape[0]
    if target is None:
        step = batch_size or default_batch_size(inputs.device)
        classes = []
        with torch.no_grad():
            for start in range(0, batch, step):
                chunk = inputs[start : start + step]
                logits = check_logits(model(chunk), chunk.shape[0], torch.zeros(0, dtype=torch.long))
                classes.append(logits.argmax(dim=1))
        return torch.cat(classes).to(device=inputs.device, dtype=torch.long)
    if isinstance(target, bool):
        raise TypeError("target must be an int, a sequence of ints, a 1-D integer tensor or None; got a bool")
    if isinstance(target, int):
        targets = torch.full((batch,), target, dtype=torch.long)
    elif isinstance(target, torch.Tensor):
        if target.dtype.is_floating_point or target.dtype == torch.bool or target.is_complex():
            raise TypeError(
                f"target must hold integers (class indices), got dtype {target.dtype}; use target.long()"
            )
        if target.ndim == 0:
            targets = torch.full((batch,), int(target), dtype=torch.long)
        elif target.ndim == 1:
            targets = target.to(torch.long)
        else:
            raise ValueError(f"target must be 1-D (one class per input), got shape {tuple(target.shape)}")
    elif isinstance(target, Sequence) and not isinstance(target, str):
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in target):
            raise TypeError("target must be a sequence of ints (class indices)")
        targets = torch.tensor(list(target), dtype=torch.long)
    else:
        raise TypeError(
            "target must be an int, a sequence of ints, a 1-D integer tensor or None; got "
            f"{type(target).__name__}"
        )
    if targets.shape[0] != batch:
        raise ValueError(
            f"target has {targets.shape[0]} entries but inputs has batch size {batch}; give one class per "
            "input"
        )
    if targets.numel() and int(targets.min()) < 0:
        raise ValueError(f"target must lie in [0, K); got {int(targets.min())}")
    return targets.to(inputs.device)


def check_steps(steps: object) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int ≥ 1 (the number of path intervals), got {steps!r}")
    return steps


def resolve_compute_at(compute_at: object, steps: int, spec: MethodSpec) -> list[int] | None:
    """Sorted step counts whose results are reported; always includes `steps` itself."""
    if compute_at is None:
        return None
    if not spec.supports_compute_at:
        raise ValueError(
            f"compute_at is not available for {spec.name}: its path depends on the step count, "
            "so run it once per count"
        )
    if isinstance(compute_at, int) and not isinstance(compute_at, bool):
        compute_at = [compute_at]
    if not isinstance(compute_at, Sequence) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in compute_at
    ):
        raise TypeError(f"compute_at must be a list of ints, got {compute_at!r}")
    valid = [n for n in range(1, steps + 1) if steps % n == 0]
    bad = [n for n in compute_at if n not in valid]
    if bad:
        raise ValueError(f"compute_at counts {bad} do not divide steps={steps}; valid counts are {valid}")
    return sorted(set(compute_at) | {steps})


def check_output(output: object) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return output  # type: ignore[return-value]


def default_batch_size(device: torch.device | str) -> int:
    """What one model call takes when `batch_size` is None: path points in `explain` (every
    method and backend, the Captum drop-in's `internal_batch_size` too), images in `evaluate`.

    64 keeps a GPU busy; on the CPU smaller chunks stay in cache, so 32 (bench/RESULTS.md,
    "Default chunk").
    """
    return 64 if torch.device(device).type == "cuda" else 32


def resolve_batch_size(
    batch_size: object,
    device: torch.device | str,
    meaning: str = "path points per model call",
    name: str = "batch_size",
) -> int:
    """`batch_size` checked, or the default for `device` when it is None."""
    if batch_size is None:
        return default_batch_size(device)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{name} must be None or an int ≥ 1 ({meaning}), got {batch_size!r}")
    return batch_size


def check_model(model: object, inputs: torch.Tensor | None = None) -> None:
    if not callable(model):
        raise TypeError(
            f"model must be an nn.Module or a callable returning logits (B, K); got {type(model).__name__}"
        )
    if inputs is None or not isinstance(model, torch.nn.Module):
        return
    parameter = next((p for p in model.parameters() if p.is_floating_point()), None)
    if parameter is not None and parameter.dtype != inputs.dtype:
        fix = "model.double()" if inputs.dtype == torch.float64 else "model.float()"
        raise TypeError(
            f"inputs are {inputs.dtype} but the model's parameters are {parameter.dtype}; "
            f"use {fix} or convert the inputs to {parameter.dtype}"
        )
