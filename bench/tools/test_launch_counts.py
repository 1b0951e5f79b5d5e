"""Device operations per path point of each method + IDGI (bench/tools/launch_counts.py): a count that
grows past its budget fails. Deterministic counts, not timings; tests/engine/test_launch_counts.py
runs the same check in `make test`."""

from __future__ import annotations

import pytest

from bench.tools.launch_counts import BUDGET, over_budget, per_point


@pytest.mark.parametrize("method", sorted(BUDGET))
def test_device_operations_per_point_stay_within_budget(method):
    assert not over_budget({method: per_point(method)})
