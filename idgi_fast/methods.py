"""The method registry: every path method, its parameters and what it can do (docs/semantics.md §3–§5).

Callers ask a `MethodSpec` instead of comparing method names: the API checks parameters
through it, the engine and the reference look their implementation up by `spec.name`, the
study runner asks `supports_compute_at`, and the report and the demo take `title`. Adding a
method means one entry here plus its reference and engine implementation
(docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .utils.checks import check_flag, check_positive_float

IG_RULES = ("pair", "left", "right", "trapezoid")
BLUR_PADDINGS = ("zeros", "reflect")


def _choice(options: tuple[str, ...]) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if value not in options:
            raise ValueError(f"{name} must be one of {options}, got {value!r}")
        return value

    return check


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return float(value)


def _distance(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1] (1 = unbounded Guided IG), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Parameter:
    """One method parameter: its default and the check that returns the value to use or raises
    an error naming the parameter."""

    name: str
    default: Any
    check: Callable[[str, Any], Any]
    doc: str


@dataclass(frozen=True)
class MethodSpec:
    """A path method and its capabilities.

    supports_compute_at: one run yields every step count dividing `steps` (§1); False where
    the path itself depends on the step count, so each count is its own run.
    needs_image_batch: inputs must be (B, C, H, W).
    takes_baselines: the user chooses the baseline (Blur IG's is the blurred input).
    baseline_needs_idgi / input_needs_idgi: that endpoint of the path is evaluated only
    when IDGI is asked for (its F is NaN in `outputs` otherwise).
    batch_sensitive: the result can depend on `batch_size` and on which images share a call
    by more than float rounding (Guided IG ranks every gradient, so the model's last-bit
    differences between batch shapes can change its path).
    """

    name: str
    title: str
    parameters: tuple[Parameter, ...] = ()
    supports_compute_at: bool = True
    needs_image_batch: bool = False
    takes_baselines: bool = True
    baseline_needs_idgi: bool = False
    input_needs_idgi: bool = False
    batch_sensitive: bool = False

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.parameters}

    def resolve_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The defaults completed with the user's values, each checked; unknown names raise."""
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            valid = ", ".join(sorted(self.defaults)) or "none"
            raise TypeError(f"{self.name} got unknown parameter(s) {unknown}; its parameters are: {valid}")
        return {p.name: p.check(p.name, params.get(p.name, p.default)) for p in self.parameters}


METHODS: dict[str, MethodSpec] = {
    "ig": MethodSpec(
        "ig",
        "IG",
        (Parameter("rule", "pair", _choice(IG_RULES), "Riemann rule over the m + 1 points (§3)"),),
    ),
    "blur_ig": MethodSpec(
        "blur_ig",
        "Blur IG",
        (
            Parameter("max_sigma", 50.0, check_positive_float, "σ of the baseline G_max_sigma(x)"),
            Parameter("grad_step", 0.01, check_positive_float, "h of the forward difference dX"),
            Parameter("sqrt", False, check_flag, "σ_i = sqrt(i·max_sigma/m) instead of i·max_sigma/m"),
            Parameter("padding", "zeros", _choice(BLUR_PADDINGS), "the blur's boundary (§4, §8)"),
        ),
        needs_image_batch=True,
        takes_baselines=False,
        baseline_needs_idgi=True,
    ),
    "guided_ig": MethodSpec(
        "guided_ig",
        "Guided IG",
        (
            Parameter("fraction", 0.25, _fraction, "share of features moved per pass"),
            Parameter("max_dist", 0.02, _distance, "how far from the straight line the path may go"),
        ),
        supports_compute_at=False,
        input_needs_idgi=True,
        batch_sensitive=True,
    ),
}
METHOD_NAMES = tuple(METHODS)


def method_spec(method: str) -> MethodSpec:
    try:
        return METHODS[method]
    except (KeyError, TypeError):
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}") from None


def variant_title(method: str, idgi: bool) -> str:
    """ "Blur IG", "Blur IG + IDGI", …: how tables and figures name a method's two variants."""
    return method_spec(method).title + (" + IDGI" if idgi else "")
