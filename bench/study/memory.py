"""Does a long study keep flat memory? The process's resident set size (RSS) sampled before each
batch of a study run of many scenes, printed as a curve with its slope.

    .venv/bin/python bench/study/memory.py [--scenes 256] [--methods ig] [--steps 8]

The run is `idgi-fast run`'s (run_study, the CLI's default metrics: insertion, deletion, SIC
and AIC on both axes, JPEG stability) into a throw-away database; each batch's results go to
the database and nothing about them should stay in the process. The slope is fitted over the
second half of the batches (the first ones load the model, build the native ops and fill
allocator pools), in MiB per 100 scenes, for the eye: RSS steps between allocator states by
±25 MiB from batch to batch, so `pytest bench/study/test_memory.py` compares the two halves'
medians instead.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from idgi_fast.study import StudyConfig, run_study
from idgi_fast.utils.tables import markdown_table

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """This process's resident set size now (Linux's /proc/self/statm)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / 2**20


def study_memory(scenes: int, methods: tuple[str, ...], steps: tuple[int, ...], batch: int) -> dict:
    """RSS before every batch of a study of `scenes` synthetic scenes: rows (batch, image runs
    done, seconds, RSS MiB) and the slope over the second half, MiB per 100 image runs."""
    config = StudyConfig(
        methods=methods,
        steps=steps,
        images=scenes,
        images_per_batch=batch,
        only_correct=False,  # every scene is explained, so each batch is the same work
        preview_images=0,
    )
    samples: list[tuple[float, float]] = []
    started = time.perf_counter()

    def sample() -> bool:
        samples.append((time.perf_counter() - started, rss_mib()))
        return False

    with tempfile.TemporaryDirectory() as folder:
        summary = run_study(config, Path(folder) / "memory.sqlite", show_progress=False, should_stop=sample)
    sample()  # after the last batch
    # every batch is full when batch divides scenes: image runs done before sample i is i·batch
    done = [min(i * batch, summary["images_done"]) for i in range(len(samples))]
    rows = [
        {"batch": i, "image runs done": n, "seconds": round(t, 1), "RSS MiB": round(rss, 1)}
        for i, (n, (t, rss)) in enumerate(zip(done, samples))
    ]
    # the slope over the second half of the batches, before each of them (the last sample, after
    # run_study returned, has the model and the database let go and would tilt it)
    during = len(samples) - 1
    half = during // 2
    x, y = np.array(done[half:during], dtype=float), np.array([rss for _, rss in samples[half:during]])
    slope = float(np.polyfit(x, y, 1)[0]) * 100 if len(x) > 1 else 0.0
    return {
        "rows": rows,
        "slope_mib_per_100_scenes": slope,
        "images_done": summary["images_done"],
        "peak_mib": max(rss for _, rss in samples),
        "during": during,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=256)
    parser.add_argument("--methods", default="ig")
    parser.add_argument("--steps", default="8")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    found = study_memory(
        args.scenes, tuple(args.methods.split(",")), tuple(int(s) for s in args.steps.split(",")), args.batch
    )
    print(markdown_table(found["rows"], list(found["rows"][0])))
    print(
        f"\n{found['images_done']} image runs; RSS peak {found['peak_mib']:.0f} MiB; slope over the second "
        f"half {found['slope_mib_per_100_scenes']:+.2f} MiB per 100 scenes"
    )


if __name__ == "__main__":
    main()
