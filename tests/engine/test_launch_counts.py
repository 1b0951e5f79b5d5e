"""The device operations each method + IDGI issues per path point besides the model's own
(bench/tools/launch_counts.py, counted under the interpreter as a card would launch them) stay within
their budget: a change that adds launches or host syncs to the chunk loop fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "launch_counts", Path(__file__).parents[2] / "bench" / "tools" / "launch_counts.py"
)
launch_counts = sys.modules.setdefault("launch_counts", importlib.util.module_from_spec(spec))
spec.loader.exec_module(launch_counts)


@pytest.mark.parametrize("method", sorted(launch_counts.BUDGET))
def test_device_operations_per_point_stay_within_budget(method):
    found = launch_counts.per_point(method)
    assert not launch_counts.over_budget({method: found})
    assert found["operations"] > 0  # the count sees the chunk loop at all
