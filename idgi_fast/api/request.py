"""`explain`'s door: every argument checked once, in the order a user meets them, into one
immutable `ExplainRequest` (targets, backend and graphs mode included) that the runner below
takes as given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import validation
from ..methods import MethodSpec, method_spec
from ..noise import NoiseSettings, check_noise
from ..ops.backends import resolve_backend
from ..runtime.graphs import resolve_graphs
from ..runtime.precision import check_precision, full_float32
from ..utils.checks import check_flag


@dataclass(frozen=True)
class ExplainRequest:
    """explain's arguments, checked and resolved: the method, its parameters, the inputs and
    baselines, noise, schedule positions, step counts, output, precision, batch size, the op
    backend ("reference", "torch", "triton" or "native"), the graphs mode and the targets."""

    spec: MethodSpec
    params: dict[str, Any]
    inputs: torch.Tensor
    baselines: torch.Tensor | list[torch.Tensor]
    noise: NoiseSettings | None
    positions: torch.Tensor | None
    steps: int
    counts: list[int] | None
    idgi: bool
    output: str
    precision: str
    batch_size: int
    backend: str
    graphs: str
    targets: torch.Tensor

    @property
    def several_baselines(self) -> bool:
        return isinstance(self.baselines, list)


def resolve_explanation(
    model,
    inputs,
    target,
    method,
    steps,
    idgi,
    baselines,
    output,
    batch_size,
    compute_at,
    backend,
    noise,
    schedule,
    graphs,
    precision,
    method_params,
) -> ExplainRequest:
    """Every argument checked, in the order a user meets them; each failure names the fix."""
    spec = method_spec(method)
    noise = check_noise(noise)
    params = spec.resolve_params(method_params)
    inputs = validation.check_inputs(inputs, image_batch=spec.needs_image_batch)
    if noise is not None:
        noise.check_batch(inputs.shape[0])
    validation.check_model(model, inputs)
    fitted_for = getattr(schedule, "method", None)
    if fitted_for is not None and fitted_for != method:
        raise ValueError(
            f"this schedule was fitted for {fitted_for}, not {method}: fit one for {method} "
            "(idgi_fast.schedules.fit) or explain with method={fitted_for!r}"
        )
    positions, steps = validation.resolve_schedule(schedule, steps)
    idgi = check_flag("idgi", idgi)
    output = validation.check_output(output)
    precision = check_precision(precision)
    batch_size = validation.resolve_batch_size(batch_size, inputs.device, values_per_item=inputs[0].numel())
    counts = validation.resolve_compute_at(compute_at, steps, spec)
    if positions is not None:
        _check_schedule_options(counts, steps, params)
    baselines = _resolved_baselines(spec, method, baselines, noise, inputs)
    backend = resolve_backend(backend, inputs)
    graphs = resolve_graphs(graphs, inputs.device, backend)
    with full_float32():
        # captured work skips the per-chunk target check (a host sync): check them once here
        targets = validation.resolve_targets(target, model, inputs, batch_size, check_outputs=graphs != "off")
    return ExplainRequest(
        spec,
        params,
        inputs,
        baselines,
        noise,
        positions,
        steps,
        counts,
        idgi,
        output,
        precision,
        batch_size,
        backend,
        graphs,
        targets,
    )


def _check_schedule_options(counts, steps: int, params: dict) -> None:
    if counts not in (None, [steps]):
        raise ValueError(
            "compute_at needs the uniform path (its counts are sub-paths of k/m); a non-uniform schedule "
            "yields its own m only: explain each schedule separately"
        )
    if params.get("rule") == "pair":
        raise ValueError(
            "rule='pair' averages g over evenly spaced points and has no schedule form; with a schedule "
            "pass rule='left' (RiemannOpt's), 'right' or 'trapezoid' (docs/semantics.md §3)"
        )


def _resolved_baselines(spec: MethodSpec, method: str, baselines, noise, inputs: torch.Tensor):
    """One baseline tensor, or a list of them (several baselines, averaged over)."""
    if not spec.takes_baselines and baselines is not None:
        raise ValueError(
            f"{method} has no baselines argument: its baseline is the input blurred at max_sigma"
        )
    if not isinstance(baselines, (list, tuple)):
        return validation.resolve_baselines(baselines, inputs)
    if noise is not None:
        raise ValueError(
            "give either several baselines or a noise tunnel: averaging over both at once is not defined"
        )
    if not baselines:
        raise ValueError("baselines is an empty list; give at least one baseline")
    return [validation.resolve_baselines(b, inputs) for b in baselines]
