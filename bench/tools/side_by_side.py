"""Seconds of explain (each method + IDGI) and evaluate on the embedded model, for the package
found in each given source tree: run it once per tree, alternating, and compare medians.

    git worktree add /tmp/old <commit>
    for tree in /tmp/old . /tmp/old .; do PYTHONPATH=$tree python3 bench/tools/side_by_side.py; done
"""

from __future__ import annotations

import statistics
import time

import torch

import idgi_fast
import idgi_fast.captum
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.metrics.stability import quantised
from idgi_fast.models import load_model


def main(rounds: int = 3) -> None:
    torch.set_num_threads(2)
    model = load_model("scenenet")
    scenes = generate_scenes(8, seed=1)
    images, targets = quantised(scenes.images), scenes.labels
    attribution = explain(model, images, target=targets, steps=32).idgi
    work = {
        "IG + IDGI, steps 32": lambda: explain(model, images, target=targets, method="ig", steps=32),
        "Blur IG + IDGI, steps 32": lambda: explain(
            model, images, target=targets, method="blur_ig", steps=32
        ),
        "Guided IG + IDGI, steps 16": lambda: explain(
            model, images, target=targets, method="guided_ig", steps=16
        ),
        "evaluate, 4 metrics, entropy axis": lambda: evaluate(
            model,
            images,
            attribution,
            target=targets,
            metrics=["insertion", "deletion", "sic", "aic"],
            information="entropy",
            insertion_canvas="blur",
            webp_method=0,
            show_progress=False,
        ),
        "Captum drop-in IG, 33 points, batch 16": lambda: idgi_fast.captum.IntegratedGradients(
            model
        ).attribute(
            images, target=targets, n_steps=33, internal_batch_size=16, return_convergence_delta=True
        ),
    }
    print(f"# {idgi_fast.__file__}: 8 scenes, median of {rounds} rounds after one warm-up")
    for name, run in work.items():
        run()
        seconds = []
        for _ in range(rounds):
            started = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - started)
        print(f"{name}\t{statistics.median(seconds):.3f} s")


if __name__ == "__main__":
    main()
