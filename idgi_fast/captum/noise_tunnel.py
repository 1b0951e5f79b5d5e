"""Drop-in for captum.attr.NoiseTunnel, over any attribution method with Captum's interface."""

from __future__ import annotations

import torch

from ..noise import NOISE_TYPES, SampleSums
from ..utils.checks import check_flag, check_positive_int
from ..validation import check_finite
from .errors import captum_errors
from .expansion import expand_keywords
from .forward import as_tuple, per_input_stdevs


def sample_batches(samples: int, per_batch: int | None) -> list[int]:
    """Samples per batch, Captum's way: full batches of `per_batch` (all at once when None), then
    the remainder."""
    per_batch = samples if per_batch is None else min(samples, per_batch)
    return [per_batch] * (samples // per_batch) + ([samples % per_batch] if samples % per_batch else [])


class NoiseTunnel:
    """Captum's NoiseTunnel (docs/extensions.md §9 for the three types): `attribute(inputs,
    nt_type, nt_samples, nt_samples_batch_size, stdevs, draw_baseline_from_distrib, **kwargs)` with
    Captum's signature and results, over any object with Captum's `attribute` interface — this
    package's IntegratedGradients, IDGI and GradientShap, or any captum.attr method (Saliency,
    InputXGradient, DeepLift, …).

    The noise is drawn from torch's global generator exactly as Captum draws it (per batch of
    samples, per input, N(0, stdev²) in the default float dtype, every example's copies side by
    side), and drawn baselines from numpy's, so the same seeds give Captum's result. Samples go
    `nt_samples_batch_size` at a time (all at once when None, as in Captum) through the wrapped
    method in one call per batch; over this package's classes that call streams the batch's
    paths through the engine, so memory grows with that batch, not with `nt_samples` or `n_steps`.
    Running sums are kept in float64.
    """

    def __init__(self, attribution_method):
        if not callable(getattr(attribution_method, "attribute", None)):
            raise TypeError(
                "attribution_method must be an attribution object with an attribute() method (an "
                f"idgi_fast.captum or captum.attr class); got {type(attribution_method).__name__}"
            )
        self.attribution_method = attribution_method
        self.forward_func = getattr(attribution_method, "forward_func", None)
        has_delta = getattr(attribution_method, "has_convergence_delta", None)
        self.is_delta_supported = bool(has_delta()) if callable(has_delta) else False
        # Captum's gradient methods take the noisy inputs with requires_grad set
        self.is_gradient_method = hasattr(attribution_method, "gradient_func")

    @property
    def multiplies_by_inputs(self) -> bool:
        return bool(getattr(self.attribution_method, "multiplies_by_inputs", False))

    def has_convergence_delta(self) -> bool:
        return self.is_delta_supported

    def attribute_future(self):
        raise NotImplementedError("attribute_future is not implemented for NoiseTunnel")

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
        with captum_errors():
            if nt_type not in NOISE_TYPES:
                raise ValueError(f"nt_type must be one of {NOISE_TYPES}, got {nt_type!r}")
            check_positive_int("nt_samples", nt_samples)
            if nt_samples_batch_size is not None:
                check_positive_int("nt_samples_batch_size", nt_samples_batch_size)
            draw = check_flag("draw_baseline_from_distrib", draw_baseline_from_distrib)
            tensors, is_tuple = as_tuple(inputs)
            for tensor in tensors:
                check_finite(tensor, "inputs")  # before the noise copies it
            stdevs = per_input_stdevs(stdevs, len(tensors))
        delta_wanted = self.is_delta_supported and bool(kwargs.get("return_convergence_delta", False))
        batches = sample_batches(nt_samples, nt_samples_batch_size)
        with torch.no_grad():
            with captum_errors():
                full = expand_keywords(kwargs, tensors, batches[0], draw)
            sums, deltas = None, []
            for size in batches:
                noisy = self._noisy(tensors, stdevs, size)
                if size != batches[0]:  # the remainder, expanded after its noise as Captum does
                    with captum_errors():
                        full = expand_keywords(kwargs, tensors, size, draw)
                found = self.attribution_method.attribute(noisy if is_tuple else noisy[0], **full)
                if delta_wanted:
                    found, delta = found
                    deltas.append(delta)
                attributions_tuple = isinstance(found, tuple)
                found = found if attributions_tuple else (found,)
                sums = sums or [SampleSums(nt_type) for _ in found]
                for running, a in zip(sums, found):
                    running.add(a.reshape(a.shape[0] // size, size, *a.shape[1:]))
        reduced = tuple(running.reduce(nt_samples, a.dtype) for running, a in zip(sums, found))
        result = reduced if attributions_tuple else reduced[0]
        return (result, torch.cat(deltas)) if delta_wanted else result

    def _noisy(self, tensors, stdevs, size: int) -> tuple[torch.Tensor, ...]:
        noisy = tuple(
            x.repeat_interleave(size, dim=0)
            + torch.normal(0.0, torch.full((x.shape[0] * size, *x.shape[1:]), float(s), device=x.device))
            for x, s in zip(tensors, stdevs)
        )
        return tuple(t.requires_grad_() for t in noisy) if self.is_gradient_method else noisy
