"""What `idgi_fast.study.run` costs beyond the work it does: the same images explained and scored
by a plain loop of `explain` + `evaluate` (no store, no resume, no filtering) and by the study
API into a fresh database, timed in alternation on the embedded model, medians of the rounds.

    .venv/bin/python bench/study/overhead.py [--scenes 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import idgi_fast.study
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.toy import load_scenenet

METRICS = ("insertion", "deletion", "sic", "aic")
OPTIONS = {"insertion_canvas": "blur", "information": ("entropy", "msssim"), "webp_method": 0}
STEPS, PER_BATCH = 8, 16


def plain_loop(model, images, labels) -> None:
    """What a user would write: each batch explained once (base and IDGI), each map scored."""
    for start in range(0, len(images), PER_BATCH):
        x, y = images[start : start + PER_BATCH], labels[start : start + PER_BATCH]
        result = explain(model, x, target=y, steps=STEPS, idgi=True, compute_at=[STEPS])
        for idgi in (False, True):
            evaluate(
                model,
                x,
                result.attribution(idgi=idgi, steps=STEPS),
                y,
                METRICS,
                show_progress=False,
                **OPTIONS,
            )


def study_api(model, images, labels, folder: Path) -> None:
    summary = idgi_fast.study.run(
        model,
        (images, labels),
        folder / "study.sqlite",
        methods=("ig",),
        steps=STEPS,
        metrics=METRICS,
        metric_options=OPTIONS,
        images_per_batch=PER_BATCH,
        only_correct=False,
        stability=False,
        preview_images=0,
        show_progress=False,
    )
    assert summary["images_done"] == len(images) and not summary["missing"]


def study_overhead(scenes: int = 32, rounds: int = 5) -> dict:
    torch.manual_seed(0)
    model = load_scenenet()
    found = generate_scenes(scenes, seed=1)
    images, labels = quantised(found.images), found.labels
    plain_loop(model, images[:PER_BATCH], labels[:PER_BATCH])  # warm-up: native ops, allocator
    times = {"loop": [], "api": []}
    for _ in range(rounds):
        started = time.perf_counter()
        plain_loop(model, images, labels)
        times["loop"].append(time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            study_api(model, images, labels, Path(folder))
            times["api"].append(time.perf_counter() - started)
    loop, api = statistics.median(times["loop"]), statistics.median(times["api"])
    return {
        "scenes": scenes,
        "rounds": rounds,
        "loop_s": loop,
        "api_s": api,
        "overhead": api / loop - 1,
        **times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenes", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    found = study_overhead(args.scenes, args.rounds)
    print(
        f"{found['scenes']} scenes, {found['rounds']} rounds: loop {found['loop_s']:.2f} s, study API "
        f"{found['api_s']:.2f} s (medians), overhead {100 * found['overhead']:+.1f} %"
    )
    print("loop rounds:", ", ".join(f"{t:.2f}" for t in found["loop"]))
    print("API rounds: ", ", ".join(f"{t:.2f}" for t in found["api"]))


if __name__ == "__main__":
    main()
