"""The public attribution API: `explain` and the Captum-shaped classes built on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from . import engine, reference, validation
from .graphs import resolve_graphs
from .methods import METHODS, check_flag, method_spec
from .noise import NoiseTunnel, SampleSums, check_noise, draw_noise, draw_shap
from .ops.backends import resolve_backend
from .outputs import check_precision, full_float32, nonfinite_error, numerics, point_finite, with_precision


def backend_runner(backend: str, inputs: torch.Tensor, graphs=None):
    """The attribution runner of a user's backend and graphs choices, resolved once here, and
    its graphs mode: the reference (the oracle), or the engine with the op backend ("torch",
    "triton" or "native") every op receives and graphs.GRAPH_MODES' "capture" or "off"."""
    backend = resolve_backend(backend, inputs)
    mode = resolve_graphs(graphs, inputs.device, backend)
    if backend == "reference":
        return reference.run, mode
    return partial(engine.run, backend=backend, graphs=mode), mode


@dataclass
class ExplainResult:
    """What `explain` returns.

    base, idgi: attributions shaped like the inputs; with `compute_at`, dicts keyed by step
    count (the run's own `steps` included). `idgi` is None when IDGI was not asked for.
    outputs: (B, steps + 1) explained outputs F at p_0 (baseline) … p_m (input); NaN at a
    point the method did not need to evaluate (the baseline of Blur IG and the input of
    Guided IG without IDGI).
    targets: (B,) classes explained. evaluations: path points sent through the model per image.
    With a noise tunnel or several baselines (docs/semantics.md §9) base and idgi hold the
    reduction over the samples (noisy copies, or baselines), outputs the samples' mean F,
    `noise` the tunnel's settings,
    sample_outputs (B, samples, steps + 1) each sample's F and sample_sums {(idgi, count):
    (B, samples) float64} each sample's Σ attribution.
    """

    method: str
    steps: int
    base: torch.Tensor | dict[int, torch.Tensor]
    idgi: torch.Tensor | dict[int, torch.Tensor] | None
    outputs: torch.Tensor
    targets: torch.Tensor
    evaluations: int
    output: str
    params: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] | None = None
    sample_outputs: torch.Tensor | None = None
    sample_sums: dict[tuple[bool, int], torch.Tensor] | None = None
    positions: torch.Tensor | None = None  # a non-uniform schedule's α_0 … α_m; None: k/m
    precision: str = "fp32"  # how the model was evaluated (explain's precision)

    def attribution(self, idgi: bool = False, steps: int | None = None) -> torch.Tensor:
        """One attribution tensor: the base or IDGI map, at `steps` when compute_at was used."""
        chosen = self.idgi if idgi else self.base
        if chosen is None:
            raise ValueError("this result has no IDGI attribution; call explain(..., idgi=True)")
        if isinstance(chosen, dict):
            key = self.steps if steps is None else steps
            if key not in chosen:
                raise ValueError(f"no result for steps={key}; this result holds step counts {sorted(chosen)}")
            return chosen[key]
        if steps not in (None, self.steps):
            raise ValueError(f"this result holds steps={self.steps} only; use compute_at to get other counts")
        return chosen

    def output_change(self) -> torch.Tensor:
        """(B,) float64 F(input) − F(baseline) from the path's own endpoints (NaN where an
        endpoint was not evaluated: Blur IG's baseline and Guided IG's input without IDGI)."""
        return (self.outputs[:, -1] - self.outputs[:, 0]).to(torch.float64)

    def completeness_gap(self, idgi: bool = False, steps: int | None = None) -> torch.Tensor:
        """(B,) float64 |Σ attribution − (F(input) − F(baseline))| of one attribution
        (docs/semantics.md §2: IDGI's is float rounding; the base methods' is their
        discretisation error). With a noise tunnel only SmoothGrad, a mean, keeps a sum to
        compare (with the samples' mean F); see sample_completeness_gap for every tunnel."""
        if self.noise is not None and self.noise["type"] != "smoothgrad":
            raise ValueError(
                f"a {self.noise['type']} map has no completeness property; use sample_completeness_gap"
            )
        total = self.attribution(idgi=idgi, steps=steps).to(torch.float64).flatten(1).sum(dim=1)
        return (total - self.output_change()).abs()

    def sample_completeness_gap(self, idgi: bool = False, steps: int | None = None) -> torch.Tensor:
        """(B, samples) float64 |Σ a_s − (F(end_s) − F(start_s))| of every sample: each noisy copy
        of a noise tunnel, or each baseline of several (§9); IDGI's is float rounding."""
        if self.sample_sums is None:
            raise ValueError(
                "this result has no samples; call explain(..., noise=...) or with a list of baselines"
            )
        if idgi and self.idgi is None:
            raise ValueError("this result has no IDGI attribution; call explain(..., idgi=True)")
        key = (idgi, self.steps if steps is None else steps)
        if key not in self.sample_sums:
            raise ValueError(
                f"no result for steps={key[1]}; this result holds step counts {sorted(self.base)}"
            )
        change = (self.sample_outputs[..., -1] - self.sample_outputs[..., 0]).to(torch.float64)
        return (self.sample_sums[key] - change).abs()


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
    if not spec.takes_baselines and baselines is not None:
        raise ValueError(
            f"{method} has no baselines argument: its baseline is the input blurred at max_sigma"
        )
    several_baselines = isinstance(baselines, (list, tuple))
    if several_baselines:
        if noise is not None:
            raise ValueError(
                "give either several baselines or a noise tunnel: averaging over both at once is not defined"
            )
        if not baselines:
            raise ValueError("baselines is an empty list; give at least one baseline")
        baselines = [validation.resolve_baselines(b, inputs) for b in baselines]
    else:
        baselines = validation.resolve_baselines(baselines, inputs)
    run, graphs = backend_runner(backend, inputs, graphs)

    with full_float32():
        # captured work skips the per-chunk target check (a host sync): check them once here
        targets = validation.resolve_targets(target, model, inputs, batch_size, check_outputs=graphs != "off")
    path_model = with_precision(model, precision, inputs.device)
    with numerics(precision):
        options = dict(spec=spec, steps=steps, output=output, params=params, positions=positions)
        sample_outputs = sample_sums = None
        if noise is None and not several_baselines:
            base, important, outputs, evaluations = run(
                path_model,
                inputs,
                baselines,
                targets,
                counts=counts or [steps],
                idgi=idgi,
                batch_size=batch_size,
                **options,
            )
        else:
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

            base, important, outputs, evaluations, sample_outputs, sample_sums = _over_samples(
                run,
                path_model,
                inputs,
                targets,
                samples,
                make_group,
                kind,
                counts or [steps],
                idgi,
                batch_size,
                **options,
            )
    if counts is None:
        base = base[steps]
        important = important[steps] if important is not None else None
    return ExplainResult(
        method=method,
        steps=steps,
        base=base,
        idgi=important,
        outputs=outputs,
        targets=targets,
        evaluations=evaluations,
        output=output,
        params=params,
        noise=noise.as_dict() if noise is not None else None,
        sample_outputs=sample_outputs,
        sample_sums=sample_sums,
        positions=positions,
        precision=precision,
    )


def _shap_distribution(baselines, inputs: torch.Tensor) -> torch.Tensor:
    """(K, B, …) baselines to draw from: a tensor's rows (Captum's distribution, each row shaped
    like one input) shared by every image, or a list resolved as explain's several baselines."""
    if isinstance(baselines, torch.Tensor):
        if baselines.ndim != inputs.ndim or baselines.shape[1:] != inputs.shape[1:] or baselines.shape[0] < 1:
            raise ValueError(
                f"baselines as a tensor is a distribution: (K, …) rows shaped like one input "
                f"{tuple(inputs.shape[1:])}, got {tuple(baselines.shape)}; or give a list of baselines "
                "(numbers or tensors broadcastable to the inputs)"
            )
        validation.check_finite(baselines, "baselines")
        rows = baselines.detach().to(device=inputs.device, dtype=inputs.dtype)
        return rows[:, None].expand(-1, *inputs.shape)
    if not isinstance(baselines, (list, tuple)) or not baselines:
        raise TypeError(
            "baselines must be a (K, …) tensor of baseline rows or a non-empty list of baselines (numbers "
            f"or tensors broadcastable to the inputs), got {type(baselines).__name__}"
        )
    return torch.stack([validation.resolve_baselines(b, inputs) for b in baselines])


def gradient_shap(
    model,
    inputs: torch.Tensor,
    baselines,
    target=None,
    samples: int = 16,
    stdev: float = 0.0,
    seed: int = 0,
    image_keys=None,
    output: str = "probability",
    batch_size: int | None = None,
) -> torch.Tensor:
    """GradientSHAP (Captum's definition, docs/semantics.md §9): the mean over `samples` draws of
    ∇F(α·(x + ε) + (1 − α)·b) ⊙ (x + ε − b), with b drawn uniformly from `baselines`, α ~ U(0, 1)
    and ε ~ N(0, stdev²) per feature; shaped like the inputs.

    baselines: a (K, …) tensor of rows shaped like one input (Captum's distribution), or a list of
    baselines as explain takes (numbers or tensors broadcastable to the inputs).
    The draws of every (image, sample) come from `seed` as a noise tunnel's (image_keys as there),
    so a seed gives the same result on every device and batch size. `batch_size` points go
    through the model per call, and samples are folded in as they come: memory does not grow with
    `samples`.
    """
    try:
        noise = NoiseTunnel("smoothgrad", samples, stdev, seed, image_keys)
    except ValueError as error:  # the tunnel's checks, named as this function's arguments
        raise ValueError(str(error).removeprefix("noise ")) from None
    inputs = validation.check_inputs(inputs)
    noise.check_batch(inputs.shape[0])
    validation.check_model(model, inputs)
    output = validation.check_output(output)
    batch_size = validation.resolve_batch_size(batch_size, inputs.device)
    distribution = _shap_distribution(baselines, inputs)
    batch, shape = inputs.shape[0], inputs.shape[1:]
    group = max(1, min(samples, batch_size // batch))
    sums = SampleSums()
    with full_float32():
        targets = validation.resolve_targets(target, model, inputs, batch_size)
        images = torch.arange(batch, device=inputs.device)
        for start in range(0, samples, group):
            chosen = range(start, min(samples, start + group))
            epsilon, alpha, rows = draw_shap(inputs, noise, chosen, distribution.shape[0])
            noisy = inputs[:, None] + epsilon
            drawn = distribution[rows.to(inputs.device), images[:, None]]
            alpha = alpha.to(device=inputs.device, dtype=inputs.dtype)
            alpha = alpha.view(batch, len(chosen), *[1] * len(shape))
            points = alpha * noisy + (1 - alpha) * drawn
            values, gradients = engine.evaluate_points(
                model,
                points.flatten(0, 1),
                targets.repeat_interleave(len(chosen)),
                output,
                batch_size,
            )
            finite = point_finite(values, gradients).view(batch, len(chosen))
            if not bool(finite.all()):
                image, column = (int(v) for v in (~finite).nonzero()[0])
                raise nonfinite_error(
                    image, f"sample {start + column}", int(targets[image]), int((~finite).sum())
                )
            sums.add(gradients.view_as(points) * (noisy - drawn))
        return sums.reduce(samples, inputs.dtype)


def _parameters_doc(method: str) -> str:
    """The method's parameters as the registry defines them, for the class docstrings."""
    return "\n".join(f"    {p.name}={p.default!r}: {p.doc}" for p in METHODS[method].parameters)


class _PathAttribution:
    """Captum-shaped access to `explain`: `attribute` returns one attribution tensor.

    Method parameters go as keywords to `attribute`; their defaults and checks are the
    registry's (idgi_fast.methods), listed below. output, backend, graphs and precision are
    explain's.
    """

    method = ""

    def __init__(
        self,
        model,
        *,
        output: str = "probability",
        backend: str = "auto",
        graphs: bool | None = None,
        precision: str = "fp32",
    ):
        validation.check_model(model)
        self.model = model
        self.output = output
        self.backend = backend
        self.graphs = graphs
        self.precision = check_precision(precision)

    def attribute(
        self,
        inputs,
        baselines=None,
        target=None,
        steps: int = 128,
        idgi: bool = False,
        batch_size: int | None = None,
        **params,
    ) -> torch.Tensor:
        """The base attribution, or the IDGI one when `idgi`, shaped like the inputs; `params` are
        the method's parameters, listed in the class docstring."""
        result = explain(
            self.model,
            inputs,
            target=target,
            method=self.method,
            steps=steps,
            idgi=idgi,
            baselines=baselines,
            output=self.output,
            batch_size=batch_size,
            backend=self.backend,
            graphs=self.graphs,
            precision=self.precision,
            **params,
        )
        return result.attribution(idgi=idgi)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = f"{cls.__doc__}\n\n    Parameters ({cls.method}):\n{_parameters_doc(cls.method)}\n"


class IntegratedGradients(_PathAttribution):
    """Integrated Gradients, optionally its IDGI variant (docs/semantics.md §3)."""

    method = "ig"


class BlurIG(_PathAttribution):
    """Blur IG (its baseline is the input blurred at max_sigma), optionally its IDGI variant (§4)."""

    method = "blur_ig"

    def attribute(
        self,
        inputs,
        target=None,
        steps: int = 128,
        idgi: bool = False,
        batch_size: int | None = None,
        **params,
    ) -> torch.Tensor:
        """Blur IG has no baselines argument; otherwise as the other classes."""
        return super().attribute(inputs, None, target, steps, idgi, batch_size, **params)


class GuidedIG(_PathAttribution):
    """Guided IG (max_dist=1 is unbounded, 0 is IG's left rule), optionally its IDGI variant (§5)."""

    method = "guided_ig"
