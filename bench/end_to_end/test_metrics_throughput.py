"""Metric throughput: each metric group per backend against the model-only scoring floor — the
forward passes over the same number of metric images in batches of `batch_size`, with no
compositing, encoding or MS-SSIM — and the entropy axis's encoding alone.

Workloads: the embedded SceneNet with 16 scenes everywhere; torchvision's ResNet-50 with random
weights (16 images of 224×224) on CUDA when torchvision is installed. The triton backend runs
on CUDA only. Run: `.venv/bin/python -m pytest bench/ --benchmark-group-by=group`.
"""

from __future__ import annotations

import pytest
import torch

from bench.floor import scoring_floor
from bench.timing import synchronised
from bench.workloads import Workloads, random_resnet50
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.geometry import gaussian_blur
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.toy import load_scenenet
from idgi_fast.ops.native import native_error
from idgi_fast.reference.metrics.common import level_counts, pixel_ranks, reveal_stack
from idgi_fast.reference.metrics.information import compressed_sizes
from idgi_fast.validation import default_batch_size

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
# native: the C++ CPU ops (ops/native.py), on the CPU where they could be built
BACKENDS = ["reference", "torch"] + (["triton"] if CUDA else ["native"] if native_error() is None else [])
BATCH = default_batch_size(DEVICE, 3 * 224 * 224)  # images per model call, evaluate's default at 224²
LEVELS = (20, 25)  # insertion intervals K, SIC/AIC levels L
WEBP_METHOD = 0  # the demo's setting; Pillow's default 4 is ~10× slower per encode
GROUPS = {  # options, metric images scored per input image
    "insertion+deletion": (dict(metrics=["insertion", "deletion"]), 2 * (LEVELS[0] + 1) + 1),
    "sic+aic entropy": (dict(metrics=["sic", "aic"], information=["entropy"]), LEVELS[1] + 1),
    "sic+aic msssim": (dict(metrics=["sic", "aic"], information=["msssim"]), LEVELS[1] + 1),
    "all four, both axes": (
        dict(metrics=["insertion", "deletion", "sic", "aic"]),
        2 * (LEVELS[0] + 1) + LEVELS[1] + 2,
    ),
}


def embedded():
    model = load_scenenet().to(DEVICE)
    scenes = generate_scenes(16, seed=1)
    images = quantised(scenes.images).to(DEVICE)
    labels = scenes.labels.to(DEVICE)
    attributions = explain(model, images, target=labels, method="ig", steps=16).attribution(idgi=True)
    return model, images, attributions, labels


def resnet50():
    model = random_resnet50("ResNet-50 metrics over 16 images × ~70 metric images are a GPU workload")
    images = quantised(torch.rand(16, 3, 224, 224)).to(DEVICE)
    labels = model(images).argmax(dim=1)
    return model, images, torch.randn(16, 224, 224, device=DEVICE), labels


WORKLOADS = Workloads(
    {"metrics, embedded SceneNet, 16 images": embedded, "metrics, ResNet-50 random, 16 images": resnet50}
)


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_floor(benchmark, record_median, name, group):
    model, images, _, labels = WORKLOADS[name]
    benchmark.group = f"{name}: {group}"
    benchmark.pedantic(
        synchronised(lambda: scoring_floor(model, images, labels, GROUPS[group][1], BATCH)),
        rounds=3,
        iterations=1,
        warmup_rounds=1,
    )
    record_median(benchmark.group, "floor", benchmark)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_evaluate(benchmark, record_median, name, group, backend):
    model, images, attributions, labels = WORKLOADS[name]
    options = GROUPS[group][0]
    benchmark.group = f"{name}: {group}"
    run = synchronised(
        lambda: evaluate(
            model,
            images,
            attributions,
            labels,
            backend=backend,
            batch_size=BATCH,
            insertion_levels=LEVELS[0],
            pic_levels=LEVELS[1],
            webp_method=WEBP_METHOD,
            show_progress=False,
            **options,
        )
    )
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1 if backend != "reference" else 0)
    record_median(benchmark.group, f"evaluate [{backend}]", benchmark)


@pytest.mark.parametrize("group", ["sic+aic entropy", "all four, both axes"])
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_entropy_encoding_alone(benchmark, record_median, name, group):
    """WebP encoding of every bokeh image and input on the pool: what overlapping can hide."""
    _, images, attributions, _ = WORKLOADS[name]
    saliency = attributions.sum(dim=1) if attributions.ndim == 4 else attributions
    counts = level_counts(images.shape[-2] * images.shape[-1], LEVELS[1] - 1)
    bokeh = torch.cat(
        [
            torch.cat(
                [
                    reveal_stack(image, gaussian_blur(image[None], 10.0)[0], pixel_ranks(s), counts),
                    image[None],
                ]
            )
            for image, s in zip(images, saliency)
        ]
    )
    benchmark.group = f"{name}: {group}"
    benchmark.pedantic(lambda: compressed_sizes(bokeh, "webp", WEBP_METHOD), rounds=3, iterations=1)
    record_median(benchmark.group, "entropy encoding alone", benchmark)
