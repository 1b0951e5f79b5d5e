"""`explain`: its arguments resolved at the door (api/request.py), then one run of the chosen
backend over the path (or over every noisy copy or baseline, folded as they come)."""

from __future__ import annotations

from functools import partial

import torch

from .. import engine, reference
from ..noise import SampleSums, draw_noise
from ..ops.backends import resolve_backend
from ..runtime.graphs import resolve_graphs
from ..runtime.precision import numerics, with_precision
from .request import ExplainRequest, resolve_explanation
from .result import ExplainResult


def backend_runner(backend: str, inputs: torch.Tensor, graphs=None):
    """The attribution runner of a user's backend and graphs choices, resolved once here, its
    graphs mode and the resolved backend: the reference (the oracle), or the engine with the op
    backend ("torch", "triton" or "native") every op receives and graphs.GRAPH_MODES' "capture" or
    "off"."""
    backend = resolve_backend(backend, inputs)
    mode = resolve_graphs(graphs, inputs.device, backend)
    return _runner(backend, mode), mode, backend


def _runner(backend: str, graphs: str):
    """The runner of a resolved backend and graphs mode."""
    if backend == "reference":
        return reference.run
    return partial(engine.run, backend=backend, graphs=graphs)


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
    """Attribute `model`'s explained output for `target` to `inputs` along a path
    (docs/semantics.md gives the exact definitions).

    method: "ig" (params: rule), "blur_ig" (max_sigma, grad_step, sqrt, padding), "guided_ig"
    (fraction, max_dist); the base attribution and IDGI come from the same model evaluations.
    steps: path intervals m (default 128; with a schedule, its own m). compute_at: more step
    counts from the same run, each a sub-path of the uniform path.
    baselines: None (zeros), a number or a tensor broadcastable to the inputs; a list of them
    averages over every baseline's full path (docs/extensions.md).
    noise: a noise tunnel over the method (docs/extensions.md), a NoiseSettings or a dict, e.g.
    {"type": "smoothgrad", "samples": 16, "stdev": 0.15, "seed": 0}; "image_keys" keys each
    image's noise by a dataset index instead of its position in the call.
    schedule: the path positions 0 = α_0 < … < α_m = 1 (a sequence, a 1-D tensor, or a fitted
    Schedule) instead of k/m; one count, no compute_at.
    backend: "auto" (Triton on CUDA; native C++ ops on the CPU where built, else torch), "torch",
    "triton", "native" or "reference" (the plain oracle) (docs/backends.md).
    batch_size: path points per model call (default 64 on CUDA, 32 on the CPU); results depend
    on it only through the model's rounding, except for `batch_sensitive` methods (Guided IG).
    graphs: None replays fixed-shape chunks as CUDA graphs where they apply; True asks for them,
    False turns them off. precision: "fp32" (default), "tf32" or "bf16" for the model's
    evaluation along the path; path points, IDGI and sums stay float32/float64.
    """
    request = resolve_explanation(
        model, inputs, target, method, steps, idgi, baselines, output, batch_size, compute_at, backend,
        noise, schedule, graphs, precision, method_params,
    )  # fmt: skip
    path_model = with_precision(model, request.precision, request.inputs.device)
    with numerics(request.precision):
        found = _attribute(_runner(request.backend, request.graphs), path_model, request)
    return _result(method, request, *found)


def _result(method, call: ExplainRequest, base, important, outputs, evaluations, sample_outputs, sample_sums):
    if call.counts is None:
        base = base[call.steps]
        important = important[call.steps] if important is not None else None
    return ExplainResult(
        method=method,
        steps=call.steps,
        base=base,
        idgi=important,
        outputs=outputs,
        targets=call.targets,
        evaluations=evaluations,
        output=call.output,
        params=call.params,
        noise=call.noise.as_dict() if call.noise is not None else None,
        sample_outputs=sample_outputs,
        sample_sums=sample_sums,
        positions=call.positions,
        precision=call.precision,
        backend=call.backend,
    )


def _attribute(run, model, call: ExplainRequest):
    """One run over the path, or one over every noisy copy or baseline; the runner's results, with
    each sample's outputs and sums (None for a single path)."""
    inputs, baselines, noise, targets = call.inputs, call.baselines, call.noise, call.targets
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
