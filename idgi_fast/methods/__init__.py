"""The three path methods, their parameters and defaults (SEMANTICS.md §3–§5).

Every backend receives parameters already checked and completed here, so a typo in a
parameter name fails the same way whatever backend runs the method.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

IG_RULES = ("pair", "left", "right", "trapezoid")
BLUR_PADDINGS = ("zeros", "reflect")


@dataclass(frozen=True)
class MethodSpec:
    name: str
    title: str
    defaults: dict[str, Any] = field(default_factory=dict)
    supports_compute_at: bool = True
    needs_image_batch: bool = False  # (B, C, H, W) input required
    uses_baselines: bool = True


METHODS: dict[str, MethodSpec] = {
    "ig": MethodSpec("ig", "IG", {"rule": "pair"}),
    "blur_ig": MethodSpec(
        "blur_ig",
        "Blur IG",
        {"max_sigma": 50.0, "grad_step": 0.01, "sqrt": False, "padding": "zeros"},
        needs_image_batch=True,
        uses_baselines=False,
    ),
    "guided_ig": MethodSpec(
        "guided_ig", "Guided IG", {"fraction": 0.25, "max_dist": 0.02}, supports_compute_at=False
    ),
}


def method_spec(method: str) -> MethodSpec:
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}") from None


def resolve_params(spec: MethodSpec, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults completed with the user's values; unknown names and bad values raise."""
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        valid = ", ".join(sorted(spec.defaults)) or "none"
        raise TypeError(f"{spec.name} got unknown parameter(s) {unknown}; its parameters are: {valid}")
    resolved = {**spec.defaults, **params}
    if spec.name == "ig" and resolved["rule"] not in IG_RULES:
        raise ValueError(f"rule must be one of {IG_RULES}, got {resolved['rule']!r}")
    if spec.name == "blur_ig":
        if resolved["padding"] not in BLUR_PADDINGS:
            raise ValueError(f"padding must be one of {BLUR_PADDINGS}, got {resolved['padding']!r}")
        if not float(resolved["max_sigma"]) > 0:
            raise ValueError(f"max_sigma must be > 0, got {resolved['max_sigma']!r}")
        if not float(resolved["grad_step"]) > 0:
            raise ValueError(f"grad_step must be > 0, got {resolved['grad_step']!r}")
        resolved["max_sigma"] = float(resolved["max_sigma"])
        resolved["grad_step"] = float(resolved["grad_step"])
        resolved["sqrt"] = bool(resolved["sqrt"])
    if spec.name == "guided_ig":
        fraction, max_dist = float(resolved["fraction"]), float(resolved["max_dist"])
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {resolved['fraction']!r}")
        if not 0 <= max_dist <= 1:
            raise ValueError(f"max_dist must be in [0, 1] (1 = unbounded Guided IG), got {resolved['max_dist']!r}")
        resolved["fraction"], resolved["max_dist"] = fraction, max_dist
    return resolved
