"""Reference metrics on the embedded model, one metric group at a time, against the model-only
scoring floor: the forward passes over the same number of metric images, with no compositing,
encoding or MS-SSIM. The ratio group / floor is what the fast-metrics backend will shrink.
Run: `.venv/bin/python -m pytest bench/ --benchmark-group-by=group`.
"""
from __future__ import annotations

import pytest
import torch

from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.toy import load_scenenet

IMAGES = 2
GROUPS = {
    "insertion+deletion": (dict(metrics=["insertion", "deletion"]), 2 * 21 + 1),
    "sic+aic entropy (webp method 0)": (dict(metrics=["sic", "aic"], information=["entropy"], webp_method=0), 26),
    "sic+aic msssim": (dict(metrics=["sic", "aic"], information=["msssim"]), 26),
}


@pytest.fixture(scope="module")
def workload():
    model = load_scenenet()
    scenes = generate_scenes(IMAGES, seed=1)
    images = quantised(scenes.images)
    attributions = explain(model, images, target=scenes.labels, method="ig", steps=16).attribution(idgi=True)
    return model, images, attributions, scenes.labels


def scoring_floor(model, images, labels, per_image: int):
    with torch.no_grad():
        for image, label in zip(images, labels.tolist()):
            torch.softmax(model(image[None].expand(per_image, -1, -1, -1)), dim=1)[:, label]


@pytest.mark.benchmark(group=f"metrics, embedded model, {IMAGES} images")
@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("what", ["floor", "reference"])
def test_metrics_reference(benchmark, workload, group, what):
    model, images, attributions, labels = workload
    options, per_image = GROUPS[group]
    if what == "floor":
        benchmark.pedantic(scoring_floor, args=(model, images, labels, per_image), rounds=3, iterations=1)
    else:
        benchmark.pedantic(lambda: evaluate(model, images, attributions, labels, **options), rounds=3, iterations=1)
