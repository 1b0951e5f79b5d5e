"""Quantus interoperability (`pip install idgi_fast[quantus]`; docs/metrics.md §15).

- `explain_func`: our attributions as Quantus's `explain_func(model, inputs, targets, **kwargs)`,
  every method with IDGI, noise tunnels and schedules passed as keyword arguments;
- `Insertion`, `Deletion`, `SIC`, `AIC`, `ROAD`: our metrics as Quantus-style callables,
  `metric(model=…, x_batch=…, y_batch=…, a_batch=…, device=…)` → one score per image.

Quantus hands over NumPy arrays; these adapters move them to `device` (else the model's), run
`explain` / `evaluate` there and hand NumPy back. They are for Quantus code, so they refuse to
run without it, naming the extra that installs it (`require_quantus()`).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import torch

from .api import explain
from .metrics import evaluate
from .metrics.options import check_evaluation_settings
from .reference.metrics.road import ROAD_ORDERS, ROAD_SCORES

EXPLAIN_DEFAULTS = {"method": "ig", "idgi": True}
# Quantus's call arguments that do not change these metrics (softmax: they score probabilities)
_IGNORED = {"s_batch", "softmax", "model_predict_kwargs", "custom_batch"}
_CALL = {
    "model",
    "x_batch",
    "y_batch",
    "a_batch",
    "device",
    "explain_func",
    "explain_func_kwargs",
    "batch_size",
}
_CALL |= {"channel_first"} | _IGNORED


def require_quantus():
    """The quantus module, or an ImportError naming the extra that installs it."""
    if importlib.util.find_spec("quantus") is None:
        raise ImportError(
            "Quantus is not installed: `pip install idgi_fast[quantus]` (or `pip install quantus`) "
            "to run Quantus's metrics with idgi_fast"
        )
    import quantus

    return quantus


def _device(model, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    parameter = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
    return parameter.device if parameter is not None else torch.device("cpu")


def _tensor(array, name: str, device: torch.device, dtype=None) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.detach().to(device=device, dtype=dtype or array.dtype)
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array or a torch.Tensor, got {type(array).__name__}")
    return torch.from_numpy(np.ascontiguousarray(array)).to(device=device, dtype=dtype)


def explain_func(model, inputs, targets, *, device=None, reduce: str | None = None, **options) -> np.ndarray:
    """Attributions for Quantus: `explain(model, inputs, targets, **options)` as a NumPy array
    shaped like the inputs (N, C, H, W), or (N, 1, H, W) channel-reduced with reduce="sum",
    "abs_sum" or "sum_abs". options: explain's keywords (method, idgi, steps, noise, schedule,
    baselines, backend, …); method defaults to "ig" and idgi to True. The IDGI map is returned
    when idgi is True, else the method's own."""
    from .saliency import saliency_map

    require_quantus()
    device = _device(model, device)
    images = _tensor(inputs, "inputs", device)
    if images.dtype not in (torch.float32, torch.float64):
        images = images.to(torch.float32)
    target = _tensor(np.asarray(targets).reshape(-1), "targets", device, torch.long)
    settings = {**EXPLAIN_DEFAULTS, **options}
    result = explain(model, images, target, **settings)
    attribution = result.attribution(idgi=bool(settings["idgi"]))
    if reduce is not None:
        attribution = saliency_map(attribution, reduce)[:, None]
    return attribution.detach().cpu().numpy()


class EvaluateMetric:
    """One of `evaluate`'s scores as a Quantus-style callable; `last` keeps the whole Evaluation
    (curves, aggregates) of the latest call."""

    metric = ""

    def __init__(self, *, backend: str = "auto", **options: Any):
        require_quantus()
        check_evaluation_settings([self.metric], options)
        self.backend = backend
        self.options = options
        self.last = None

    @property
    def key(self) -> str:
        raise NotImplementedError

    def __call__(
        self,
        model,
        x_batch,
        y_batch,
        a_batch=None,
        device=None,
        explain_func=None,
        explain_func_kwargs: dict | None = None,
        batch_size: int | None = None,
        channel_first: bool | None = None,
        **quantus_options: Any,
    ) -> list[float]:
        unknown = sorted(set(quantus_options) - _IGNORED)
        if unknown:
            raise TypeError(f"unknown argument(s) {unknown}; this metric takes Quantus's {sorted(_CALL)}")
        if channel_first is False:
            raise ValueError("x_batch must be channel-first (N, C, H, W); pass channel_first=True or None")
        device = _device(model, device)
        images = _tensor(x_batch, "x_batch", device)
        targets = _tensor(np.asarray(y_batch).reshape(-1), "y_batch", device, torch.long)
        if a_batch is None:
            if explain_func is None:
                raise ValueError("pass a_batch (attributions) or explain_func to compute them")
            a_batch = explain_func(
                model=model, inputs=x_batch, targets=y_batch, **(explain_func_kwargs or {})
            )
        attributions = _tensor(a_batch, "a_batch", device, images.dtype)
        if attributions.ndim == 4 and attributions.shape[1] == 1:
            attributions = attributions[:, 0]  # Quantus's saliency maps are (N, 1, H, W)
        options = dict(self.options)
        if batch_size is not None:
            options["batch_size"] = batch_size
        self.last = evaluate(
            model, images, attributions, targets, [self.metric], backend=self.backend, **options
        )
        return [float(value) for value in self.last.per_image[self.key]]


class Insertion(EvaluateMetric):
    """Per-image insertion AUC (the target's probability; docs/semantics.md §6)."""

    metric = "insertion"
    key = "insertion/probability"


class Deletion(EvaluateMetric):
    """Per-image deletion AUC (the target's probability; docs/semantics.md §6)."""

    metric = "deletion"
    key = "deletion/probability"


class _PicMetric(EvaluateMetric):
    def __init__(self, *, information: str = "msssim", backend: str = "auto", **options: Any):
        super().__init__(backend=backend, information=(information,), **options)
        self.axis = information

    @property
    def key(self) -> str:
        return f"{self.metric}/{self.axis}"


class SIC(_PicMetric):
    """Per-image SIC AUC on one information axis ("msssim" or "entropy"); NaN for skipped images."""

    metric = "sic"


class AIC(_PicMetric):
    """Per-image AIC AUC on one information axis ("msssim" or "entropy"); NaN for skipped images."""

    metric = "aic"


class ROAD(EvaluateMetric):
    """Per-image ROAD area (docs/metrics.md §15) of one order ("morf" or "lerf") and score
    ("probability" or "accuracy"); percentages, noise and seed as evaluate's road_* options."""

    metric = "road"

    def __init__(
        self, *, order: str = "morf", score: str = "probability", backend: str = "auto", **options: Any
    ):
        if order not in ROAD_ORDERS:
            raise ValueError(f"order must be one of {ROAD_ORDERS}, got {order!r}")
        if score not in ROAD_SCORES:
            raise ValueError(f"score must be one of {ROAD_SCORES}, got {score!r}")
        options.setdefault("road_orders", (order,))
        super().__init__(backend=backend, **options)
        self.order, self.score = order, score

    @property
    def key(self) -> str:
        return f"road/{self.order}/{self.score}"
