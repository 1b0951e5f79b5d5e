"""Reference backend on the embedded model against the model-only floor.

The floor is the forward + backward passes over the same number of path points with no
path logic at all; the ratio method / floor is what the fast backends will shrink.
Run: `.venv/bin/python -m pytest bench/ --benchmark-group-by=group`.
"""
from __future__ import annotations

import pytest
import torch

from idgi_fast import explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.models.toy import load_scenenet

from floor import model_only_floor

IMAGES, STEPS = 2, 16


@pytest.fixture(scope="module")
def workload():
    torch.manual_seed(0)
    scenes = generate_scenes(IMAGES, seed=1)
    return load_scenenet(), scenes.images, scenes.labels


@pytest.mark.benchmark(group=f"attribution, embedded model, {IMAGES} images, steps={STEPS}")
@pytest.mark.parametrize("method", ["floor", "ig", "blur_ig", "guided_ig"])
def test_reference(benchmark, workload, method):
    model, images, labels = workload
    if method == "floor":
        benchmark.pedantic(model_only_floor, args=(model, images, labels, STEPS + 1), rounds=3, iterations=1)
    else:
        benchmark.pedantic(lambda: explain(model, images, target=labels, method=method, steps=STEPS, idgi=True),
                           rounds=3, iterations=1)
