"""Fitting step schedules (idgi_fast.schedules, docs/extensions.md §12): an analytic case whose
output changes only near the input, JSON round trip, use in explain, and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import idgi_fast
from idgi_fast.schedules import Schedule, error_bound, fit

pytest.importorskip("scipy")


class LateRise(torch.nn.Module):
    """Logit 0 = 10·sigmoid(40·(mean(x) − 0.85)): along IG's path from 0 to an all-ones image
    it is flat until α ≈ 0.75 and rises near α = 0.85."""

    def forward(self, x):
        score = 10 * torch.sigmoid(40 * (x.flatten(1).mean(dim=1) - 0.85))
        return torch.stack([score, -score], dim=1)


def test_the_fit_puts_the_points_where_the_output_changes():
    images = torch.ones(2, 1, 4, 4, dtype=torch.float64)
    schedule = fit(LateRise(), images, 0, "ig", 8, grid_steps=128, output="logit", rule="left")
    positions = np.array(schedule.positions)
    assert positions[0] == 0 and positions[-1] == 1 and (np.diff(positions) > 0).all()
    assert ((positions > 0.6) & (positions < 1)).sum() >= 5  # of the 7 interior points
    assert schedule.fit["bound_fitted"] < schedule.fit["bound_uniform"] / 2
    grid = np.arange(129) / 128
    assert schedule.fit["bound_fitted"] == pytest.approx(
        error_bound(positions, grid, np.array(schedule.fit["curvature"]))
    )
    # the fitted points beat the uniform ones on this model's own attribution error
    x = torch.ones(1, 1, 4, 4, dtype=torch.float64)
    exact = idgi_fast.explain(LateRise(), x, target=0, steps=4096, rule="trapezoid", output="logit")
    fitted = idgi_fast.explain(LateRise(), x, target=0, schedule=schedule, rule="left", output="logit")
    uniform = idgi_fast.explain(LateRise(), x, target=0, steps=8, rule="left", output="logit")
    assert (fitted.base - exact.base).abs().sum() < 0.5 * (uniform.base - exact.base).abs().sum()


def test_a_schedule_round_trips_and_names_its_method(tmp_path):
    schedule = Schedule(
        positions=(0.0, 0.5, 0.9, 1.0), method="blur_ig", model="toy", params={"max_sigma": 3.0}
    )
    path = schedule.save(tmp_path / "s.json")
    assert Schedule.load(path) == schedule and json.loads(path.read_text())["format"] == 1
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    from conftest import TinyCNN

    model = TinyCNN().double().eval()
    found = idgi_fast.explain(
        model, x, target=0, method="blur_ig", schedule=Schedule.load(path), max_sigma=3.0
    )
    assert found.steps == 3 and float(found.completeness_gap(idgi=True).max()) < 1e-12
    with pytest.raises(ValueError, match="this schedule was fitted for blur_ig, not ig"):
        idgi_fast.explain(model, x, target=0, schedule=schedule, rule="left")


def test_bad_schedule_files_and_fits_are_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": 1, "positions": [0.0, 0.7, 0.4, 1.0], "method": "ig"}')
    with pytest.raises(ValueError, match="strictly increasing"):
        Schedule.load(broken)
    (tmp_path / "other.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a schedule file"):
        Schedule.load(tmp_path / "other.json")
    with pytest.raises(ValueError, match="grid_steps .* at least twice steps"):
        fit(LateRise(), torch.ones(1, 1, 4, 4), 0, "ig", 16, grid_steps=16, rule="left")
