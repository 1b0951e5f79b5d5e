"""GradientSHAP: expected gradients over baselines drawn from a distribution, with input noise."""

from __future__ import annotations

import torch

from .. import engine, validation
from ..noise import NoiseSettings, SampleSums, draw_shap
from ..outputs import nonfinite_error, point_finite
from ..runtime.precision import full_float32


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
    """GradientSHAP (Captum's definition, docs/extensions.md §9): the mean over `samples` draws of
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
        noise = NoiseSettings("smoothgrad", samples, stdev, seed, image_keys)
    except ValueError as error:  # the tunnel's checks, named as this function's arguments
        raise ValueError(str(error).removeprefix("noise ")) from None
    inputs = validation.check_inputs(inputs)
    noise.check_batch(inputs.shape[0])
    validation.check_model(model, inputs)
    output = validation.check_output(output)
    batch_size = validation.resolve_batch_size(batch_size, inputs.device, values_per_item=inputs[0].numel())
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
            values, gradients = engine.model_outputs(
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
