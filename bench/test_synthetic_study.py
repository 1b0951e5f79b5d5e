"""The study database at paper scale, measured on the synthetic study (bench/synthetic_study.py)
at two sizes: bytes per map (must not grow with the images, and must put the paper grid — 10
models × 35 000 images × 30 maps — under 20 GB) and the report's time per image. Prints both;
bench/RESULTS.md keeps measured ones. Run: `.venv/bin/python -m pytest bench/test_synthetic_study.py`."""

from __future__ import annotations

import time

from synthetic_study import synthetic_study

from idgi_fast.study.report import build_report

PAPER_MAPS = 10 * 35_000 * 30


def test_bytes_per_map_stay_flat_and_the_paper_grid_fits(tmp_path, capsys):
    rows = []
    for images in (100, 400):
        db = tmp_path / f"study{images}.sqlite"
        found = synthetic_study(db, models=1, images=images)
        started = time.perf_counter()
        build_report(db).write(tmp_path / f"report{images}")
        rows.append((images, found["bytes"] / found["maps"], time.perf_counter() - started))
    with capsys.disabled():
        for images, per_map, seconds in rows:
            print(
                f"\n{images} images: {per_map:.0f} bytes per map "
                f"(paper grid {per_map * PAPER_MAPS / 1e9:.1f} GB), report {seconds:.1f} s "
                f"({seconds / images:.3f} s per image and model)"
            )
    (_, small, _), (_, large, _) = rows
    assert abs(large - small) <= 0.05 * small
    assert large * PAPER_MAPS <= 20e9
