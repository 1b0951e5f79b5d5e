"""How much of a study's time goes to writing its results: the embedded study (SceneNet, the
CLI's settings) on a few scenes with `Store.record` timed, as a share of the whole run. The same
script runs against an older checkout (PYTHONPATH=that/checkout) for a side-by-side comparison.

    .venv/bin/python bench/study/writing.py --scenes 32
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from idgi_fast.study import StudyConfig, run_study
from idgi_fast.study.store.database import Store


def writing_share(scenes: int = 32) -> dict:
    spent = {"record": 0.0, "calls": 0}
    original = Store.record

    def timed(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent["record"] += time.perf_counter() - started
            spent["calls"] += 1

    Store.record = timed
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = StudyConfig(images=scenes)
            started = time.perf_counter()
            run_study(config, Path(folder) / "study.sqlite", show_progress=False)
            total = time.perf_counter() - started
            size = (Path(folder) / "study.sqlite").stat().st_size
    finally:
        Store.record = original
    return {
        "scenes": scenes,
        "total_s": total,
        "record_s": spent["record"],
        "batches": spent["calls"],
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenes", type=int, default=32)
    found = writing_share(parser.parse_args().scenes)
    print(
        f"{found['scenes']} scenes: run {found['total_s']:.1f} s, writing {found['record_s']:.3f} s in "
        f"{found['batches']} batches ({100 * found['record_s'] / found['total_s']:.2f} % of the run), "
        f"database {found['bytes'] / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()
