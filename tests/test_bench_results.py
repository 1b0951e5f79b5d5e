"""`pytest bench/` appends its timings to the results CSV: one op's benchmark module run as the
bench suite runs it, into a temporary file, gives one row per implementation with every column."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from idgi_fast.ops.catalogue import OPS
from idgi_fast.ops.native import native_error

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["op", "backend", "shape", "dtype", "device", "median", "p20", "p80", "commit", "date"]


def test_an_op_benchmark_appends_one_row_per_implementation(tmp_path):
    target = tmp_path / "results.csv"
    # a worker's variables would tell pytest-benchmark that xdist runs it, and it would time nothing
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["IDGI_BENCH_RESULTS"] = str(target)
    command = [sys.executable, "-m", "pytest", "bench/ops/quantise.py", "-q", "-p", "no:cacheprovider"]
    for _ in range(2):  # a second run appends below the first, under one header
        finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stdout + finished.stderr
    with open(target, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    implementations = ["torch"] + (["native"] if native_error() is None else [])
    assert sorted(r["backend"] for r in rows) == sorted(implementations * 2)
    assert set(implementations) <= set(OPS["quantise_hwc"])
    for row in rows:
        assert row["op"] == "quantise_hwc" and row["shape"] == "26×3×224×224" and row["dtype"] == "float32"
        assert 0 < float(row["p20"]) <= float(row["median"]) <= float(row["p80"])
        assert row["commit"] and row["date"]
