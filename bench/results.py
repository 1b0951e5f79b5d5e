"""The one record of measured numbers: bench/data/results.csv, one row per timed thing and run —
op (or workload), backend, shape, dtype, device, median, p20, p80 (seconds), commit, date.
`pytest bench/` and the GPU check append to it; bench/RESULTS.md's first page reads it."""

from __future__ import annotations

import csv
import datetime
import os
import subprocess
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
# IDGI_BENCH_RESULTS sends the rows elsewhere (the tests' temporary file)
CSV = Path(os.environ.get("IDGI_BENCH_RESULTS", BENCH / "data" / "results.csv"))
COLUMNS = ("op", "backend", "shape", "dtype", "device", "median", "p20", "p80", "commit", "date")


def quantile(samples: list[float], q: float) -> float:
    """Linear-interpolated quantile of the samples (numpy's default rule)."""
    ordered = sorted(samples)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def commit() -> str:
    """The checkout's commit, with "+" when its tracked files differ from it."""
    root = BENCH.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=root).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+" if dirty else "")


def device_name(device: str | torch.device) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


def row(op: str, backend: str, shape, dtype, device, samples: list[float]) -> dict:
    """One CSV row from the seconds of several rounds."""
    shape = shape if isinstance(shape, str) else "×".join(map(str, shape))
    return {
        "op": op,
        "backend": backend,
        "shape": shape,
        "dtype": str(dtype).replace("torch.", ""),
        "device": device_name(device),
        "median": f"{quantile(samples, 0.5):.6g}",
        "p20": f"{quantile(samples, 0.2):.6g}",
        "p80": f"{quantile(samples, 0.8):.6g}",
        "commit": commit(),
        "date": datetime.date.today().isoformat(),
    }


def append(rows: list[dict], path: Path = CSV) -> None:
    """Append rows, writing the header when the file is new."""
    if not rows:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def latest(path: Path = CSV) -> list[dict]:
    """The newest row of each (op, backend, shape, dtype, device), in first-seen order."""
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        newest = {}
        for found in csv.DictReader(handle):
            newest[tuple(found[c] for c in COLUMNS[:5])] = found
    return list(newest.values())
