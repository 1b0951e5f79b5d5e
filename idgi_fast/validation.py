"""Checks of user input, shared by every entry point. Each error names the argument and the fix."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .methods import MethodSpec
from .outputs import OUTPUTS, NonFiniteOutput, check_logits
from .utils.checks import check_positive_int

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


INT64_MAX = 2**63 - 1


def resolve_targets(
    target: object, model, inputs: torch.Tensor, batch_size: int | None = None, check_outputs: bool = False
) -> torch.Tensor:
    """A (B,) int64 tensor of classes; None means the model's argmax on the inputs.

    The model is called on the inputs when target is None, or when `check_outputs` is set:
    then its logits are checked (type, shape, dtype, device, finite) and every target against
    the number of classes, before any real work.
    """
    batch = inputs.shape[0]
    targets = None if target is None else _targets_tensor(target, batch)
    if target is None or check_outputs:
        step = batch_size or default_batch_size(inputs.device, inputs[0].numel())
        classes = []
        with torch.no_grad():
            for start in range(0, batch, step):
                chunk = inputs[start : start + step]
                chosen = (
                    targets[start : start + step] if targets is not None else torch.zeros(0, dtype=torch.long)
                )
                logits = check_logits(model(chunk), chunk.shape[0], chosen, chunk.device)
                if not bool(torch.isfinite(logits).all()):
                    row = int((~torch.isfinite(logits)).any(dim=1).nonzero()[0])
                    raise NonFiniteOutput(
                        f"the model's logits are NaN or Inf for input {start + row}; look for an overflow in "
                        "the model or inputs outside the range it was trained on"
                    )
                classes.append(logits.argmax(dim=1))
        if targets is None:
            targets = torch.cat(classes)
    return targets.to(device=inputs.device, dtype=torch.long)


def _targets_tensor(target: object, batch: int) -> torch.Tensor:
    if isinstance(target, bool):
        raise TypeError("target must be an int, a sequence of ints, a 1-D integer tensor or None; got a bool")
    if isinstance(target, int):
        _check_class_index(target)
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
        for t in target:
            _check_class_index(t)
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
    return targets


def _check_class_index(value: int) -> None:
    if not 0 <= value <= INT64_MAX:
        raise ValueError(f"target must lie in [0, K), the model's classes; got {value}")


def check_steps(steps: object) -> int:
    return check_positive_int("steps", steps, "the number of path intervals")


DEFAULT_STEPS = 128


def resolve_schedule(schedule: object, steps: object) -> tuple[torch.Tensor | None, int]:
    """(positions, m): a schedule's float64 CPU positions 0 = α_0 < … < α_m = 1 and m, or
    (None, steps) for the uniform path (no schedule, or one whose positions are k/m to four
    units of their dtype's rounding, so that it runs the default path bit for bit). `steps`,
    when given beside a schedule, must be m. A schedule is a sequence of numbers, a 1-D tensor
    or array, or an object with `positions`."""
    if schedule is None:
        return None, check_steps(DEFAULT_STEPS if steps is None else steps)
    values = getattr(schedule, "positions", schedule)
    try:
        # numbers stay float64 (torch would make a list float32); tensors and arrays keep their dtype
        given = (
            torch.as_tensor(values)
            if hasattr(values, "dtype")
            else torch.as_tensor(values, dtype=torch.float64)
        )
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(
            "schedule must be a 1-D sequence of path positions 0 = α_0 < … < α_m = 1, got "
            f"{type(values).__name__}"
        ) from None
    if given.dtype == torch.bool or given.is_complex():
        raise TypeError(f"schedule must hold real path positions from 0 to 1, got dtype {given.dtype}")
    positions = given.detach().to(device="cpu", dtype=torch.float64).flatten()
    if given.ndim != 1 or positions.numel() < 2:
        raise ValueError(
            f"schedule must be a 1-D sequence of at least two positions, got shape {tuple(given.shape)}"
        )
    if not bool(torch.isfinite(positions).all()):
        raise ValueError("schedule holds NaN or Inf; positions must be finite numbers from 0 to 1")
    if positions[0] != 0 or positions[-1] != 1:
        raise ValueError(
            "schedule must start at 0 (the baseline) and end at 1 (the input), got "
            f"{float(positions[0])!r} … {float(positions[-1])!r}"
        )
    if not bool((positions[1:] > positions[:-1]).all()):
        where = int(torch.nonzero(positions[1:] <= positions[:-1])[0])
        raise ValueError(
            f"schedule must be strictly increasing; α_{where + 1} = {float(positions[where + 1])!r} does not "
            f"exceed α_{where} = {float(positions[where])!r}"
        )
    m = positions.numel() - 1
    if steps is not None and check_steps(steps) != m:
        raise ValueError(f"steps={steps} but the schedule has m = {m} intervals; leave steps out or give {m}")
    uniform = torch.arange(m + 1, dtype=torch.float64) / m
    # k/m to the given dtype's rounding (a list of k/m, torch.linspace) is the uniform path itself
    tolerance = 4 * torch.finfo(given.dtype if given.is_floating_point() else torch.float64).eps
    return (None if bool(((positions - uniform).abs() <= tolerance).all()) else positions), m


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


CPU_CHUNK_VALUES = 1 << 21  # input values per model call on the CPU: 8 MB of float32 inputs
CPU_CHUNK_MAX = 32


def default_batch_size(device: torch.device | str, values_per_item: int | None = None) -> int:
    """What one model call takes when `batch_size` is None: path points in `explain` (every
    method and backend, the Captum drop-in's `internal_batch_size` too), images in `evaluate`.
    `values_per_item`: the numel of one image or path point.

    64 keeps a GPU busy. On the CPU a chunk's activations must stay small enough not to thrash the
    caches and the allocator: the largest power of two whose inputs hold at most CPU_CHUNK_VALUES
    values, at most 32 and at least 1 (32 for 3×64² inputs, 8 for 3×224²). A rule rather than a
    measured probe, so that the default, and with it every result, is the same on every run
    (bench/RESULTS.md, "Default chunk").
    """
    if torch.device(device).type == "cuda":
        return 64
    if not values_per_item:
        return CPU_CHUNK_MAX
    fits = max(1, CPU_CHUNK_VALUES // values_per_item)
    return min(CPU_CHUNK_MAX, 1 << (fits.bit_length() - 1))


def resolve_batch_size(
    batch_size: object,
    device: torch.device | str,
    meaning: str = "path points per model call",
    name: str = "batch_size",
    values_per_item: int | None = None,
) -> int:
    """`batch_size` checked, or the default for `device` and items of `values_per_item` values
    when it is None."""
    if batch_size is None:
        return default_batch_size(device, values_per_item)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"{name} must be None or an int ≥ 1 ({meaning}), got {batch_size!r}")
    return batch_size


def _mode_dependent(module: torch.nn.Module) -> bool:
    """Whether a layer computes differently in training mode: BatchNorm (batch statistics, and it
    updates its running ones), InstanceNorm that tracks running statistics, Dropout, RReLU."""
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        return True
    if isinstance(module, torch.nn.modules.instancenorm._InstanceNorm):
        return module.track_running_stats
    return isinstance(module, (torch.nn.modules.dropout._DropoutNd, torch.nn.RReLU))


def model_module(model: object) -> torch.nn.Module | None:
    """The nn.Module behind a model argument: the module itself or the owner of a bound method
    (model.forward); None for other callables."""
    if isinstance(model, torch.nn.Module):
        return model
    owner = getattr(model, "__self__", None)
    return owner if isinstance(owner, torch.nn.Module) else None


def check_model(model: object, inputs: torch.Tensor | None = None, name: str = "model") -> None:
    """A callable model, not in training mode, with its parameters on the inputs' device and dtype.

    Training mode is refused rather than switched: BatchNorm in training mode would use batch
    statistics and update its running ones on every call, and Dropout would make two identical
    calls differ; the caller's model is never modified (docs/usage.md, "Behaviour").
    """
    if not callable(model):
        raise TypeError(
            f"{name} must be an nn.Module or a callable returning logits (B, K); got {type(model).__name__}"
        )
    module = model_module(model)
    if module is None:
        return
    training = [
        (path or type(module).__name__, type(layer).__name__)
        for path, layer in module.named_modules()
        if layer.training and _mode_dependent(layer)
    ]
    if training:
        shown = ", ".join(f"layer {path!r} ({kind})" for path, kind in training[:3])
        more = f" and {len(training) - 3} more" if len(training) > 3 else ""
        raise ValueError(
            f"{name} is in training mode: {shown}{more} would compute with batch statistics or random "
            "dropout, and BatchNorm would update its running statistics on every call. Call "
            "model.eval() before explaining or evaluating."
        )
    if inputs is None:
        return
    tensors = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    elsewhere = next((t for t in tensors if t.device != inputs.device), None)
    if elsewhere is not None:
        raise ValueError(
            f"{name} is on {elsewhere.device} but the inputs are on {inputs.device}; move one to the other, "
            f"e.g. model.to(inputs.device)"
        )
    parameter = next((p for p in module.parameters() if p.is_floating_point()), None)
    if parameter is not None and parameter.dtype != inputs.dtype:
        fix = "model.double()" if inputs.dtype == torch.float64 else "model.float()"
        raise TypeError(
            f"inputs are {inputs.dtype} but the model's parameters are {parameter.dtype}; "
            f"use {fix} or convert the inputs to {parameter.dtype}"
        )
