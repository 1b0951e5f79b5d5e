"""Step schedules fitted once per model and method (docs/extensions.md §12), after RiemannOpt
(Swain & Singhi, arXiv 2410.04118): fewer model calls for the same attribution.

The left-Riemann error of a path integral over points α_0 < … < α_m is bounded by about
½ Σ_i |g′| (α_(i+1) − α_i)², where g(α) = dF/dα is the path derivative of the explained
output and |g′| is taken over interval i (error_bound). `fit` estimates |g′| on a dense
uniform grid from the outputs F of a few images along the method's own path (one `explain` run
through the engine), then minimises the bound over the m − 1 interior points with scipy's
Powell method. The result is a `Schedule`: pass it to
`explain(..., schedule=...)` (for its method), save it as JSON and load it back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .api import explain
from .methods import method_spec
from .validation import check_steps, resolve_schedule

SCHEDULE_FORMAT = 1


@dataclass(frozen=True)
class Schedule:
    """Positions 0 = α_0 < … < α_m = 1 fitted for `method` (with its `params`) on `model`; `fit`
    records how: the grid, the images, |g′| on the grid and the bound before and after."""

    positions: tuple[float, ...]
    method: str
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return len(self.positions) - 1

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"format": SCHEDULE_FORMAT, **asdict(self)}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Schedule:
        """A schedule file written by `save` (or `idgi-fast schedule fit`), checked as a schedule
        given in code is; any fault names the file and what is wrong with it (ValueError)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a readable schedule file: {error}") from None
        if not isinstance(data, dict) or data.get("format") != SCHEDULE_FORMAT:
            raise ValueError(
                f"{path} is not a schedule file of format {SCHEDULE_FORMAT} (`idgi-fast schedule fit`)"
            )
        try:
            return cls._checked({key: value for key, value in data.items() if key != "format"})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path} is not a valid schedule file: {error}") from None

    @classmethod
    def _checked(cls, data: dict[str, Any]) -> Schedule:
        known = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - known), sorted({"positions", "method"} - set(data))
        if unknown or missing:
            raise ValueError(
                f"its keys must be among {sorted(known)} with positions and method present; "
                + (f"unknown {unknown}" if unknown else f"missing {missing}")
            )
        for name, kind in (("model", str), ("params", dict), ("fit", dict)):
            if name in data and not isinstance(data[name], kind):
                raise TypeError(f"{name} must be a {kind.__name__}, got {type(data[name]).__name__}")
        if not isinstance(data["positions"], list):
            raise TypeError(f"positions must be a list of numbers, got {type(data['positions']).__name__}")
        schedule = cls(**{**data, "positions": tuple(data["positions"])})
        positions, _ = resolve_schedule(schedule, None)  # a hand-edited file is checked as any schedule
        params = method_spec(schedule.method).resolve_params(schedule.params)
        if positions is not None and params.get("rule") == "pair":
            raise ValueError(
                "its IG rule is 'pair' (the default where params names none), which has no schedule form; "
                'set params to {"rule": "left"} (or "right", "trapezoid")'
            )
        return schedule


def error_bound(positions: np.ndarray, grid: np.ndarray, curvature: np.ndarray) -> float:
    """½ Σ_i ḡ_i (α_(i+1) − α_i)², ḡ_i the mean of |g′| over interval i (from its values on
    `grid`, integrated by the trapezoid and interpolated linearly). The paper's bound takes |g′|
    at the interval's left end; its mean keeps one wide interval that starts where the output is
    flat from hiding a rise inside it."""
    cumulative = np.concatenate([[0.0], np.cumsum(np.diff(grid) * (curvature[1:] + curvature[:-1]) / 2)])
    areas = np.diff(np.interp(positions, grid, cumulative))  # ∫ |g′| over each interval = ḡ_i Δ_i
    return 0.5 * float(np.sum(areas * np.diff(positions)))


def _positions(free: np.ndarray) -> np.ndarray:
    """Interior points from m unconstrained numbers: widths by a softmax, so any value is a
    valid, strictly increasing schedule from 0 to 1."""
    widths = np.exp(free - free.max())
    widths /= widths.sum()
    return np.concatenate([[0.0], np.cumsum(widths)[:-1], [1.0]])


def path_curvature(
    model, images: torch.Tensor, targets, method: str, grid_steps: int = 128, **explain_options
) -> tuple[np.ndarray, np.ndarray]:
    """(grid α_j = j/N, mean over images of |g′(α_j)|): F along the method's own uniform path of N
    intervals (every point evaluated: IDGI's run), g′ by second differences (one-sided at the
    ends)."""
    found = explain(
        model, images, target=targets, method=method, steps=grid_steps, idgi=True, **explain_options
    )
    outputs = found.outputs.detach().to(torch.float64).cpu().numpy()  # (B, N + 1)
    if not np.isfinite(outputs).all():
        raise ValueError("the explained output is not finite along the path; fit on other images")
    h = 1.0 / grid_steps
    second = np.empty_like(outputs)
    second[:, 1:-1] = (outputs[:, 2:] - 2 * outputs[:, 1:-1] + outputs[:, :-2]) / (h * h)
    second[:, 0], second[:, -1] = second[:, 1], second[:, -2]
    return np.arange(grid_steps + 1) / grid_steps, np.abs(second).mean(axis=0)


def fit(
    model,
    images: torch.Tensor,
    targets,
    method: str,
    steps: int,
    *,
    grid_steps: int = 128,
    output: str = "probability",
    batch_size: int | None = None,
    model_name: str = "",
    max_iterations: int = 20_000,
    **method_params,
) -> Schedule:
    """A schedule of `steps` intervals for `method` on `model`, fitted on `images` (a few images
    disjoint from those it will explain): the positions minimising the left-Riemann error bound
    (module docstring), started from the uniform schedule. Needs scipy (pip install
    'idgi-fast[schedules]'). `method_params` are the method's and go into the schedule."""
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise ImportError("fitting a schedule needs scipy: pip install 'idgi-fast[schedules]'") from None
    spec = method_spec(method)
    params = spec.resolve_params(method_params)
    steps, grid_steps = check_steps(steps), check_steps(grid_steps)
    if grid_steps < 2 * steps:
        raise ValueError(
            f"grid_steps ({grid_steps}) must be at least twice steps ({steps}) to resolve the path"
        )
    grid, curvature = path_curvature(
        model, images, targets, method, grid_steps, output=output, batch_size=batch_size, **params
    )
    uniform = np.arange(steps + 1) / steps
    scale = max(float(curvature.max()), 1e-300)  # Powell's tolerances are absolute
    result = minimize(
        lambda free: error_bound(_positions(free), grid, curvature / scale),
        np.zeros(steps),
        method="Powell",
        options={"maxfev": max_iterations, "xtol": 1e-6, "ftol": 1e-12},
    )
    positions = _positions(result.x)
    before, after = error_bound(uniform, grid, curvature), error_bound(positions, grid, curvature)
    if not after < before:  # the optimiser found nothing better: keep the uniform points
        positions, after = uniform, before
    return Schedule(
        positions=tuple(float(a) for a in positions),
        method=method,
        model=model_name,
        params=params,
        fit={
            "images": int(images.shape[0]),
            "output": output,
            "grid_steps": grid_steps,
            "curvature": [float(c) for c in curvature],
            "bound_uniform": before,
            "bound_fitted": after,
            "iterations": int(getattr(result, "nfev", 0)),
            "converged": bool(result.success),
        },
    )
