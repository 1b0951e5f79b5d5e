"""Non-uniform step schedules (docs/semantics.md §1, §3–§5): every backend against the reference
for the three methods, IDGI complete for any schedule, a uniform schedule bit for bit the default
path, an analytic IG case per rule, Blur IG's σ along the schedule, and clear errors."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyCNN

import idgi_fast
from idgi_fast.geometry import gaussian_blur
from idgi_fast.ops.native import native_error

BACKENDS = ["torch", "triton"] + (["native"] if native_error() is None else [])
SCHEDULE = torch.tensor([0.0, 0.05, 0.2, 0.45, 0.7, 0.9, 1.0], dtype=torch.float64)
PARAMS = {"ig": {"rule": "left"}, "blur_ig": {"max_sigma": 3.0}, "guided_ig": {}}


def _inputs(seed=0):
    return torch.rand(2, 3, 9, 10, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
def test_every_backend_follows_the_reference_and_idgi_is_complete(method):
    model, x = TinyCNN().double().eval(), _inputs()
    want = idgi_fast.explain(
        model, x, target=1, method=method, schedule=SCHEDULE, backend="reference", **PARAMS[method]
    )
    assert want.steps == 6 and torch.equal(want.positions, SCHEDULE)
    assert float(want.completeness_gap(idgi=True).max()) < 1e-12
    uniform = idgi_fast.explain(
        model, x, target=1, method=method, steps=6, backend="reference", **PARAMS[method]
    )
    assert not torch.allclose(want.base, uniform.base), "the schedule must change the attribution"
    for backend in BACKENDS:
        got = idgi_fast.explain(
            model,
            x,
            target=1,
            method=method,
            schedule=SCHEDULE,
            backend=backend,
            batch_size=5,
            **PARAMS[method],
        )
        for kind in ("base", "idgi"):
            mine, theirs = getattr(got, kind), getattr(want, kind)
            torch.testing.assert_close(mine, theirs, rtol=1e-9, atol=1e-12 * float(theirs.abs().max()))
        assert float(got.completeness_gap(idgi=True).max()) < 1e-12


@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
@pytest.mark.parametrize("schedule", ["list", "float32 linspace", "float64 tensor"])
def test_a_uniform_schedule_is_the_default_path_bit_for_bit(method, schedule):
    model, x = TinyCNN().double().eval(), _inputs(1)
    given = {
        "list": [k / 5 for k in range(6)],
        "float32 linspace": torch.linspace(0, 1, 6),
        "float64 tensor": torch.arange(6, dtype=torch.float64) / 5,
    }[schedule]
    params = PARAMS[method]
    scheduled = idgi_fast.explain(model, x, target=1, method=method, schedule=given, **params)
    default = idgi_fast.explain(model, x, target=1, method=method, steps=5, **params)
    assert scheduled.positions is None
    assert torch.equal(scheduled.base, default.base) and torch.equal(scheduled.idgi, default.idgi)


class Square(torch.nn.Module):
    """Logit 0 is (w·x)²/2: along the path α·x from 0 its gradient is α(w·x)·w."""

    def __init__(self, weight):
        super().__init__()
        self.weight = torch.nn.Parameter(weight)

    def forward(self, x):
        score = (x.flatten(1) * self.weight.flatten()).sum(dim=1)
        return torch.stack([score * score / 2, -score], dim=1)


@pytest.mark.parametrize("rule", ["left", "right", "trapezoid"])
def test_ig_over_a_schedule_is_its_riemann_sum(rule):
    """IG = (w·x)(w ⊙ x)·Σ_k α_k c_k with c_k the rule's weight of point k: left Δ_k, right
    Δ_(k−1), trapezoid their mean; the trapezoid is exact here (the integrand is linear in α)."""
    weight = torch.randn(1, 2, 3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    model, x = Square(weight).double().eval(), _inputs()[:, :2, :3, :4]
    found = idgi_fast.explain(
        model, x, target=0, schedule=SCHEDULE, rule=rule, output="logit", backend="torch"
    )
    widths = (SCHEDULE[1:] - SCHEDULE[:-1]).tolist()
    left = sum(a * w for a, w in zip(SCHEDULE[:-1].tolist(), widths))
    right = sum(a * w for a, w in zip(SCHEDULE[1:].tolist(), widths))
    factor = {"left": left, "right": right, "trapezoid": (left + right) / 2}[rule]
    score = (x.flatten(1) * weight.flatten()).sum(dim=1).view(-1, 1, 1, 1)
    torch.testing.assert_close(found.base, score * weight * x * factor, rtol=1e-12, atol=1e-14)
    if rule == "trapezoid":
        torch.testing.assert_close(found.base, score * weight * x / 2, rtol=1e-12, atol=1e-14)


def test_blur_ig_evaluates_the_blur_at_sigma_along_the_schedule():
    model, x = TinyCNN().double().eval(), _inputs(3)
    found = idgi_fast.explain(
        model,
        x,
        target=2,
        method="blur_ig",
        schedule=SCHEDULE,
        max_sigma=3.0,
        output="logit",
        backend="torch",
    )
    for j, alpha in enumerate(SCHEDULE.tolist()[1:], start=1):
        blurred = gaussian_blur(x, 3.0 * (1 - alpha), "zeros")
        with torch.no_grad():
            want = model(blurred)[:, 2]
        torch.testing.assert_close(found.outputs[:, j], want, rtol=1e-12, atol=1e-12)
