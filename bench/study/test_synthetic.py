"""The study at paper scale, measured on the synthetic study (bench/study/synthetic.py) at two
sizes: bytes per map (must not grow with the images, and must put the paper grid — 10 models ×
35 000 images × 30 maps — under 20 GB) and `idgi-fast report`'s time and peak memory, run as
the CLI in a child process, extrapolated to the paper grid from the two sizes (the time per image
and model is the slope between them). Prints both; bench/RESULTS.md keeps measured ones.

    .venv/bin/python -m pytest bench/study/test_synthetic.py -s
    IDGI_FAST_SYNTHETIC_SIZES=8000,35000 .venv/bin/python -m pytest bench/study/test_synthetic.py -s
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time

from bench.study.synthetic import synthetic_study

PAPER_IMAGES = 10 * 35_000  # images × models
PAPER_MAPS = PAPER_IMAGES * 30
SIZES = [int(size) for size in os.environ.get("IDGI_FAST_SYNTHETIC_SIZES", "2000,8000").split(",")]


def _report(db, out) -> tuple[float, float]:
    """(seconds, peak resident GB) of `idgi-fast report db` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "idgi_fast.cli", "report", str(db), "--out", str(out)], check=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child's, in KB
    return seconds, max(peak, before) / 1e6


def test_the_paper_grid_fits_and_its_report_is_priced(tmp_path, capsys):
    rows = []
    for images in SIZES:
        db = tmp_path / f"study{images}.sqlite"
        found = synthetic_study(db, models=1, images=images)
        seconds, peak = _report(db, tmp_path / f"report{images}")
        rows.append((images, found["bytes"] / found["maps"], seconds, peak))
    (small, small_bytes, small_s, _), (large, large_bytes, large_s, peak) = rows
    per_image = (large_s - small_s) / (large - small)
    with capsys.disabled():
        for images, per_map, seconds, memory in rows:
            print(
                f"\n{images} images: {per_map:.0f} bytes per map "
                f"(paper grid {per_map * PAPER_MAPS / 1e9:.1f} GB), report {seconds:.1f} s, "
                f"peak {memory:.2f} GB"
            )
        print(
            f"report: {1e3 * per_image:.2f} ms per image and model between the sizes; the paper grid "
            f"≈ {(small_s + per_image * (PAPER_IMAGES - small)) / 60:.1f} min"
        )
    assert abs(large_bytes - small_bytes) <= 0.05 * small_bytes
    assert large_bytes * PAPER_MAPS <= 20e9
