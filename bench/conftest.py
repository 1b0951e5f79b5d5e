"""Benchmarks run with `pytest bench/` (pytest-benchmark); they are never part of `make test`.

Every benchmark's rounds go to bench/data/results.csv as it finishes (bench/results.py); at the
end the session prints, per workload, each entry's ratio to that workload's model-only floor.
bench/ops/<op>.py files are collected as test modules though their names do not start with test_.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import torch

from bench import results

MEDIANS: dict[str, dict[str, float]] = defaultdict(dict)


OPS_FOLDER = Path(__file__).resolve().parent / "ops"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def pytest_collect_file(file_path, parent):
    """bench/ops/<op>.py as a test module; pytest collects a file named on its command line itself."""
    if parent.session.isinitpath(file_path):
        return None
    if file_path.suffix == ".py" and file_path.parent == OPS_FOLDER and not file_path.name.startswith("_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def record_median():
    """An end-to-end timing: its median for the ratio table, its rounds to the CSV (op = the
    workload group, backend = the entry)."""

    def record(group: str, name: str, benchmark) -> None:
        if benchmark.stats is not None:
            MEDIANS[group][name] = benchmark.stats.stats.median
            results.append([results.row(group, name, "", "", DEVICE, list(benchmark.stats.stats.data))])

    return record


@pytest.fixture
def record_row():
    """An op's timing to the CSV."""

    def record(op: str, backend: str, shape: str, dtype, device: str, benchmark) -> None:
        if benchmark.stats is not None:
            results.append([results.row(op, backend, shape, dtype, device, list(benchmark.stats.stats.data))])

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
