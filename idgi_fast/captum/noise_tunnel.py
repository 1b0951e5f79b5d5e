"""Drop-in for captum.attr.NoiseTunnel over this package's IntegratedGradients or IDGI."""

from __future__ import annotations

import torch

from ..noise import NOISE_TYPES, SampleSums
from ..utils.checks import check_flag, check_positive_int
from ..validation import check_finite
from .forward import as_tuple, per_input_stdevs, repeat_examples
from .integrated_gradients import IDGI, IntegratedGradients


class NoiseTunnel:
    """Captum's NoiseTunnel over this module's IntegratedGradients or IDGI (docs/extensions.md §9
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
        if nt_type not in NOISE_TYPES:
            raise ValueError(f"nt_type must be one of {NOISE_TYPES}, got {nt_type!r}")
        for name, value in (("nt_samples", nt_samples), ("nt_samples_batch_size", nt_samples_batch_size)):
            if value is not None:
                check_positive_int(name, value)
        if check_flag("draw_baseline_from_distrib", draw_baseline_from_distrib):
            raise ValueError(
                "draw_baseline_from_distrib draws baselines at random, which IntegratedGradients and IDGI "
                "do not do; give the baselines"
            )
        tensors, is_tuple = as_tuple(inputs)
        for tensor in tensors:
            check_finite(tensor, "inputs")  # before the noise copies it
        stdevs = per_input_stdevs(stdevs, len(tensors))
        n_examples = tensors[0].shape[0]
        per_batch = nt_samples if nt_samples_batch_size is None else min(nt_samples, nt_samples_batch_size)
        batches = [per_batch] * (nt_samples // per_batch) + (
            [nt_samples % per_batch] if nt_samples % per_batch else []
        )
        delta_wanted = bool(kwargs.get("return_convergence_delta", False))
        sums = [SampleSums(nt_type) for _ in tensors]
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
                    tuple(repeat_examples(v, n_examples, size) for v in value)
                    if key in ("baselines", "additional_forward_args") and isinstance(value, tuple)
                    else repeat_examples(value, n_examples, size)
                )
                for key, value in kwargs.items()
            }
            found = self.attribution_method.attribute(noisy if is_tuple else noisy[0], **options)
            if delta_wanted:
                found, delta = found
                deltas.append(delta)
            found = found if isinstance(found, tuple) else (found,)
            for running, a in zip(sums, found):
                running.add(a.reshape(n_examples, size, *a.shape[1:]))
        reduced = [running.reduce(nt_samples, a.dtype) for running, a in zip(sums, tensors)]
        result = tuple(reduced) if is_tuple else reduced[0]
        return (result, torch.cat(deltas)) if delta_wanted else result
