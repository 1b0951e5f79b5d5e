"""`explain`: the checks of its arguments, then one run of the chosen backend over the path (or
over every noisy copy or baseline, folded as they come)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import torch

from .. import engine, reference, validation
from ..graphs import resolve_graphs
from ..methods import MethodSpec, check_flag, method_spec
from ..noise import NoiseSettings, SampleSums, check_noise, draw_noise
from ..ops.backends import resolve_backend
from ..outputs import check_precision, full_float32, numerics, with_precision
from .result import ExplainResult


def backend_runner(backend: str, inputs: torch.Tensor, graphs=None):
    """The attribution runner of a user's backend and graphs choices, resolved once here, and
    its graphs mode: the reference (the oracle), or the engine with the op backend ("torch",
    "triton" or "native") every op receives and graphs.GRAPH_MODES' "capture" or "off"."""
    backend = resolve_backend(backend, inputs)
    mode = resolve_graphs(graphs, inputs.device, backend)
    if backend == "reference":
        return reference.run, mode
    return partial(engine.run, backend=backend, graphs=mode), mode


def _over_samples(
    run, model, inputs, targets, samples: int, make_group, kind: str, counts, idgi, batch_size, **options
):
    """The runner over `samples` variants of every input — noisy copies (a noise tunnel) or
    other baselines — a group of samples at a time (as many as fill one model call, so memory
    does not grow with `samples`), folded into per-image sums and reduced by `kind`.
    make_group(samples: range) gives the group's inputs and baselines, (B·g, …) each, every
    image's samples side by side."""
    batch, shape = inputs.shape[0], inputs.shape[1:]
    group = max(1, min(samples, batch_size // batch))
    variants = [False, True] if idgi else [False]
    sums = {(v, c): SampleSums(kind) for v in variants for c in counts}
    totals = {key: torch.empty(batch, samples, dtype=torch.float64) for key in sums}
    sample_outputs, evaluations = [], 0
    for start in range(0, samples, group):
        chosen = range(start, min(samples, start + group))
        group_inputs, group_baselines = make_group(chosen)
        base, important, outputs, evaluations = run(
            model,
            group_inputs,
            group_baselines,
            targets.repeat_interleave(len(chosen)),
            counts=counts,
            idgi=idgi,
            batch_size=batch_size,
            **options,
        )
        for (variant, count), running in sums.items():
            found = (important if variant else base)[count].view(batch, len(chosen), *shape)
            running.add(found)
            totals[(variant, count)][:, start : start + len(chosen)] = (
                found.to(torch.float64).flatten(2).sum(dim=2).cpu()
            )
        sample_outputs.append(outputs.view(batch, len(chosen), -1))
    sample_outputs = torch.cat(sample_outputs, dim=1)
    reduced = {key: running.reduce(samples, inputs.dtype) for key, running in sums.items()}
    base = {c: reduced[(False, c)] for c in counts}
    important = {c: reduced[(True, c)] for c in counts} if idgi else None
    mean_outputs = sample_outputs.to(torch.float64).mean(dim=1).to(sample_outputs.dtype)
    return base, important, mean_outputs, evaluations * samples, sample_outputs, totals


def explain(
    model,
    inputs: torch.Tensor,
    target=None,
    method: str = "ig",
    steps: int | None = None,
    idgi: bool = True,
    baselines=None,
    output: str = "probability",
    batch_size: int | None = None,
    compute_at=None,
    backend: str = "auto",
    noise=None,
    schedule=None,
    graphs=None,
    precision: str = "fp32",
    **method_params,
) -> ExplainResult:
    """Attribute `model`'s explained output for `target` to `inputs` along a path.

    method: "ig" (params: rule), "blur_ig" (max_sigma, grad_step, sqrt, padding),
    "guided_ig" (fraction, max_dist). The base attribution and IDGI come from the same
    model evaluations. docs/semantics.md gives the exact definitions.
    backend: "auto" (Triton kernels for CUDA tensors; on the CPU the native C++ ops where they
    are built, else the vectorised torch path), "torch", "triton", "native" or "reference" (the
    plain oracle). batch_size: path points per model
    call, every method and backend (validation.default_batch_size when None: 64 on CUDA, 32
    on the CPU). Results depend on it only through the model's float rounding, except for
    methods whose registry entry is `batch_sensitive` (Guided IG).
    baselines: None (zeros), a number or a tensor broadcastable to the inputs; a list of them
    averages the attribution over every baseline's full path (docs/semantics.md §9).
    noise: a noise tunnel over the method (docs/semantics.md §9), e.g. {"type": "smoothgrad",
    "samples": 16, "stdev": 0.15, "seed": 0}: types "smoothgrad", "smoothgrad_sq", "vargrad";
    stdev in input units; the seed fixes the noise of every (image, sample) on every backend;
    "image_keys" (one int per image, e.g. its dataset index) keys each image's noise instead of its
    position in the call, so that it does not depend on how a dataset is batched.
    steps: path intervals m (default 128; with a schedule, its own m).
    schedule: the path positions 0 = α_0 < … < α_m = 1 (a sequence, a 1-D tensor, or an object
    with `positions`) instead of k/m (docs/semantics.md §1, §3–§5): IG by a Riemann rule over
    them (rule "left", "right" or "trapezoid"), Blur IG's σ = max_sigma·(1 − α), Guided IG's
    step k ending at α_(k+1); IDGI as always. One count (no compute_at); positions equal to k/m
    (to their dtype's rounding) run the default path.
    graphs: None (default) replays each fixed-shape chunk of path points — forward, backward and
    accumulation — as one CUDA graph on CUDA tensors with the fast backends (Guided IG: its
    per-step model call), captured once per model, shape and chunk and cached for later calls;
    True asks for it, False turns it off. A model that cannot be captured (host syncs) runs
    without graphs after one warning. Results equal the uncaptured path's (docs/semantics.md §13).
    precision: how the model is evaluated along the path: "fp32" (default: exact float32, TF32
    off, deterministic cuDNN), "tf32" (TF32 matmuls and convolutions on CUDA, cuDNN's fastest
    algorithms) or "bf16" (the model under bfloat16 autocast; F and gradients come back in
    float32). Path points, IDGI and accumulation stay float32/float64; targets come from the
    model at float32. The README lists each one's measured error against "fp32" per method.
    """
    call = _checked(
        model,
        inputs,
        method,
        steps,
        idgi,
        baselines,
        output,
        batch_size,
        compute_at,
        noise,
        schedule,
        precision,
        method_params,
    )
    run, graphs = backend_runner(backend, call.inputs, graphs)
    with full_float32():
        # captured work skips the per-chunk target check (a host sync): check them once here
        targets = validation.resolve_targets(
            target, model, call.inputs, call.batch_size, check_outputs=graphs != "off"
        )
    path_model = with_precision(model, call.precision, call.inputs.device)
    with numerics(call.precision):
        base, important, outputs, evaluations, sample_outputs, sample_sums = _attribute(
            run, path_model, call, targets
        )
    if call.counts is None:
        base = base[call.steps]
        important = important[call.steps] if important is not None else None
    return ExplainResult(
        method=method,
        steps=call.steps,
        base=base,
        idgi=important,
        outputs=outputs,
        targets=targets,
        evaluations=evaluations,
        output=call.output,
        params=call.params,
        noise=call.noise.as_dict() if call.noise is not None else None,
        sample_outputs=sample_outputs,
        sample_sums=sample_sums,
        positions=call.positions,
        precision=call.precision,
    )


@dataclass
class _Call:
    """explain's arguments, checked and resolved."""

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

    @property
    def several_baselines(self) -> bool:
        return isinstance(self.baselines, list)


def _checked(
    model,
    inputs,
    method,
    steps,
    idgi,
    baselines,
    output,
    batch_size,
    compute_at,
    noise,
    schedule,
    precision,
    method_params,
) -> _Call:
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
    batch_size = validation.resolve_batch_size(batch_size, inputs.device)
    counts = validation.resolve_compute_at(compute_at, steps, spec)
    if positions is not None:
        _check_schedule_options(counts, steps, params)
    baselines = _resolved_baselines(spec, method, baselines, noise, inputs)
    return _Call(
        spec, params, inputs, baselines, noise, positions, steps, counts, idgi, output, precision, batch_size
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


def _attribute(run, model, call: _Call, targets: torch.Tensor):
    """One run over the path, or one over every noisy copy or baseline; the runner's results, with
    each sample's outputs and sums (None for a single path)."""
    inputs, baselines, noise = call.inputs, call.baselines, call.noise
    options = dict(
        spec=call.spec, steps=call.steps, output=call.output, params=call.params, positions=call.positions
    )
    counts = call.counts or [call.steps]
    if noise is None and not call.several_baselines:
        found = run(
            model,
            inputs,
            baselines,
            targets,
            counts=counts,
            idgi=call.idgi,
            batch_size=call.batch_size,
            **options,
        )
        return (*found, None, None)
    if noise is not None:
        samples, kind = noise.samples, noise.type

        def make_group(chosen: range):
            noisy = inputs[:, None] + draw_noise(inputs, noise, chosen)
            return noisy.flatten(0, 1), baselines.repeat_interleave(len(chosen), dim=0)
    else:
        samples, kind = len(baselines), "smoothgrad"

        def make_group(chosen: range):
            group = torch.stack([baselines[s] for s in chosen], dim=1)
            return inputs.repeat_interleave(len(chosen), dim=0), group.flatten(0, 1)

    return _over_samples(
        run, model, inputs, targets, samples, make_group, kind, counts, call.idgi, call.batch_size, **options
    )
