"""Benchmarks run with `pytest bench/` (pytest-benchmark); they are never part of `make test`.

Every benchmark records its median here; at the end the session prints, per workload, each
entry's ratio to that workload's model-only floor.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

MEDIANS: dict[str, dict[str, float]] = defaultdict(dict)


@pytest.fixture
def record_median():
    def record(group: str, name: str, benchmark) -> None:
        if benchmark.stats is not None:
            MEDIANS[group][name] = benchmark.stats.stats.median

    return record


def pytest_terminal_summary(terminalreporter):
    for group, entries in MEDIANS.items():
        # a workload timed at several chunks is held to its best floor
        floors = [
            seconds for name, seconds in entries.items() if name == "floor" or name.startswith("floor (chunk")
        ]
        floor = min(floors) if floors else None
        terminalreporter.write_sep("-", f"ratios to the model-only floor: {group}")
        terminalreporter.write_line(f"{'entry':<56} {'median s':>10} {'× floor':>8}")
        for name, seconds in entries.items():
            ratio = f"{seconds / floor:8.2f}" if floor else "       -"
            terminalreporter.write_line(f"{name:<56} {seconds:10.4f} {ratio}")
