"""evaluate's fast path against the reference, side by side in one run (issue 45, item 6):
insertion, deletion, SIC and AIC on both information axes over 8 embedded scenes (IG + IDGI maps,
steps 32, WebP effort 0 as the demo), every other setting evaluate's default."""

from __future__ import annotations

import pytest

from bench.timing import synchronised
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.metrics.stability import quantised
from idgi_fast.models import load_model

GROUP = "evaluate, embedded SceneNet, 8 scenes: all four, both axes"


@pytest.fixture(scope="module")
def workload():
    model = load_model("scenenet")
    scenes = generate_scenes(8, seed=1)
    images, targets = quantised(scenes.images), scenes.labels
    return model, images, explain(model, images, target=targets, steps=32).idgi, targets


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_evaluate_against_reference(benchmark, record_median, workload, backend):
    model, images, attribution, targets = workload
    metrics = ["insertion", "deletion", "sic", "aic"]
    run = synchronised(
        lambda: evaluate(
            model, images, attribution, targets, metrics, backend=backend, webp_method=0, show_progress=False
        )
    )
    benchmark.group = GROUP
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    record_median(GROUP, f"evaluate [{backend}]", benchmark)
