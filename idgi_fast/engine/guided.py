"""Guided IG for the fast backends: all images step together, one model evaluation per step
(`batch_size` points per model call).

The path logic is the reference's (float64, docs/semantics.md §5), batched over images by
ops.guided_step. IDGI keeps one point across steps: g_k (squared) waits for F_{k+1}.
"""

from __future__ import annotations

import torch

from ..ops.accumulate import idgi_scales, squared_norms
from ..ops.guided_step import guided_step
from ..outputs import check_path_finite, output_and_gradient, output_only, point_finite
from ..runtime.graphs import CACHE, StaticCall
from ..utils.profiling import annotate


def model_outputs(model, points, targets, output, batch_size: int, gradient=True, check_targets=True):
    """F (N,) and, when `gradient`, ∂F/∂point of N points with their own targets, `batch_size`
    points per model call (check_targets: outputs.output_and_gradient's)."""
    values, grads = [], []
    for start in range(0, points.shape[0], batch_size):
        part = slice(start, start + batch_size)
        if gradient:
            f, g = output_and_gradient(model, points[part], targets[part], output, check_targets)
            grads.append(g)
        else:
            f = output_only(model, points[part], targets[part], output)
        values.append(f.detach())
    return torch.cat(values), (torch.cat(grads) if gradient else None)


class StaticModelOutputs:
    """model_outputs of one fixed batch of points as a StaticCall (a CUDA graph when
    `capture`): Guided IG's model call, the same shape at every step."""

    def __init__(self, model, like: torch.Tensor, targets, output, batch_size: int, capture: bool):
        self.points, self.targets = torch.empty_like(like), targets.clone()

        def body():
            return model_outputs(model, self.points, self.targets, output, batch_size, check_targets=False)

        self.call = StaticCall(body, capture, "Guided IG's model call (forward, backward)")

    def __call__(self, points: torch.Tensor, targets: torch.Tensor):
        self.points.copy_(points)
        self.targets.copy_(targets)
        values, gradients = self.call()
        return values.clone(), gradients  # F is kept across steps; the gradient is used up in its step


def step_outputs(model, inputs, targets, output, batch_size: int, graphs: str):
    """Guided IG's per-step model call: model_outputs, or its cached StaticModelOutputs."""
    if graphs == "off":
        return lambda points: model_outputs(model, points, targets, output, batch_size)
    evaluation = CACHE.get(
        "guided call",
        model,
        inputs,
        (batch_size, output, graphs),
        lambda: StaticModelOutputs(model, inputs, targets, output, batch_size, graphs == "capture"),
    )
    return lambda points: evaluation(points, targets)


def _idgi_update(accumulator, squared, norm, change):
    scale = idgi_scales(change, norm)
    accumulator += squared * scale.view(-1, *([1] * (squared.ndim - 1))).to(squared.dtype)


def guided_ig_stream(
    model,
    inputs,
    baselines,
    targets,
    steps,
    idgi,
    output,
    batch_size,
    backend,
    fraction: float,
    max_dist: float,
    positions: torch.Tensor | None = None,
    graphs: str = "off",
):
    batch = inputs.shape[0]
    evaluate = step_outputs(model, inputs, targets, output, batch_size, graphs)
    x_in = inputs.to(torch.float64).flatten(1).contiguous()
    x_base = baselines.to(torch.float64).expand_as(inputs).flatten(1).contiguous()
    distance = (x_in - x_base).abs().sum(dim=1)
    x = x_base.clone()
    attribution = torch.zeros_like(x_in)
    outputs = torch.full((batch, steps + 1), float("nan"), dtype=inputs.dtype, device=inputs.device)
    finite = torch.ones((batch, steps + 1), dtype=torch.bool, device=inputs.device)
    important = torch.zeros_like(inputs) if idgi else None
    waiting = None  # (g², Σg², F) of the previous step, until F of the next point is known
    for k in range(steps):
        with annotate("forward+backward"):
            values, gradients = evaluate(x.to(inputs.dtype).view_as(inputs))
        outputs[:, k] = values
        finite[:, k] = point_finite(values, gradients)
        check_path_finite(finite, targets, steps)  # at once: a NaN gradient would corrupt the ranking
        if idgi:
            with annotate("accumulate"):
                if waiting is not None:
                    _idgi_update(important, waiting[0], waiting[1], (values - waiting[2]).to(torch.float64))
                waiting = (gradients * gradients, squared_norms(gradients, backend).to(torch.float64), values)
        guided_step(
            x,
            attribution,
            x_in,
            x_base,
            gradients.to(torch.float64).flatten(1).contiguous(),
            distance,
            (k + 1) / steps if positions is None else float(positions[k + 1]),
            fraction,
            max_dist,
            backend,
        )
    if idgi:
        outputs[:, steps], _ = model_outputs(model, inputs, targets, output, batch_size, gradient=False)
        _idgi_update(important, waiting[0], waiting[1], (outputs[:, steps] - waiting[2]).to(torch.float64))
        finite[:, steps] = point_finite(outputs[:, steps])
    check_path_finite(finite, targets, steps)
    base = {steps: attribution.view_as(inputs).to(inputs.dtype)}
    return base, ({steps: important} if idgi else None), outputs, steps + (1 if idgi else 0)
