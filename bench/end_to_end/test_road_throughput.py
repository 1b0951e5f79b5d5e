"""ROAD throughput (docs/metrics.md §15): our batched ROAD against Quantus's ROAD and the
reference imputer, side by side in one run, beside the model-only scoring floor.

Workload: the embedded SceneNet on 16 scenes upsampled to 224×224, IG + IDGI maps, the
reference's percentages (10, 20, 30, 40, 50, 70, 90). Quantus's ROAD computes MoRF accuracy
only and runs only on single-channel images (metrics.md §15), so it gets the scenes' grey
version through a model that repeats the channel: the same imputation systems (one sparse
factorisation serves every channel), one third of the right-hand sides. "reference imputer" is
road_evaluation's algorithm as Quantus ships it (`noisy_linear_imputation`: scipy's spsolve, one
image and percentage at a time), imputation only. Ours: MoRF alone (Quantus's work) and both
orders. Needs Quantus (`pip install 'idgi-fast[quantus]'`, in the dev extra).
Run: `.venv/bin/python -m pytest bench/end_to_end/test_road_throughput.py --benchmark-group-by=group`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bench.floor import scoring_floor
from bench.timing import synchronised
from bench.workloads import Workloads
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.models.toy import load_scenenet
from idgi_fast.ops.native import native_error
from idgi_fast.reference.metrics.common import pixel_ranks
from idgi_fast.reference.metrics.road import ROAD_PERCENTAGES, removal_masks, removed_counts
from idgi_fast.validation import default_batch_size

quantus = pytest.importorskip("quantus")

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
BACKENDS = ["torch"] + (["triton"] if CUDA else ["native"] if native_error() is None else [])
BATCH = default_batch_size(DEVICE, 3 * 224 * 224)
GROUP = "ROAD, embedded SceneNet, 16 images 224²"


class Grey(torch.nn.Module):
    """SceneNet on single-channel images (the channel repeated), for Quantus's ROAD."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x.expand(-1, 3, -1, -1))


def embedded():
    model = load_scenenet().to(DEVICE)
    scenes = generate_scenes(16, seed=1)
    images = F.interpolate(scenes.images, size=(224, 224), mode="bilinear", align_corners=False).clamp(0, 1)
    images, labels = images.to(DEVICE), scenes.labels.to(DEVICE)
    attributions = explain(model, images, target=labels, method="ig", steps=16).attribution(idgi=True)
    return model, images, attributions, labels


WORKLOADS = Workloads({GROUP: embedded})


def test_floor(benchmark, record_median):
    model, images, _, labels = WORKLOADS[GROUP]
    benchmark.group = GROUP
    run = synchronised(lambda: scoring_floor(model, images, labels, len(ROAD_PERCENTAGES), BATCH))
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    record_median(GROUP, "floor", benchmark)


@pytest.mark.parametrize("orders", [("morf",), ("morf", "lerf")], ids=["MoRF", "MoRF+LeRF"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_road(benchmark, record_median, backend, orders):
    model, images, attributions, labels = WORKLOADS[GROUP]
    benchmark.group = GROUP
    run = synchronised(
        lambda: evaluate(
            model,
            images,
            attributions,
            labels,
            metrics=["road"],
            road_orders=orders,
            backend=backend,
            batch_size=BATCH,
            show_progress=False,
        )
    )
    slow = backend == "torch" and not CUDA  # about 100 s a round on 2 cores: the GPU's formulation
    benchmark.pedantic(run, rounds=1 if slow else 3, iterations=1, warmup_rounds=0 if slow else 1)
    record_median(GROUP, f"ROAD {'+'.join(orders)} [{backend}]", benchmark)


def test_quantus_road(benchmark, record_median):
    model, images, attributions, labels = WORKLOADS[GROUP]
    grey = Grey(model).eval()
    x = images.mean(dim=1, keepdim=True).cpu().numpy()
    a = attributions.sum(dim=1, keepdim=True).cpu().numpy()
    y = labels.cpu().numpy()
    metric = quantus.ROAD(percentages=list(ROAD_PERCENTAGES), noise=0.01, disable_warnings=True)
    benchmark.group = GROUP
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(
            lambda: metric(model=grey, x_batch=x, y_batch=y, a_batch=a, device=DEVICE), rounds=2, iterations=1
        )
    record_median(GROUP, "Quantus ROAD (MoRF, 1 channel)", benchmark)


def test_reference_imputer(benchmark, record_median):
    from quantus.functions.perturb_func import noisy_linear_imputation

    _, images, attributions, _ = WORKLOADS[GROUP]
    counts = removed_counts(224 * 224, ROAD_PERCENTAGES)
    work = []
    for image, attribution in zip(images.cpu().double(), attributions.cpu().sum(dim=1)):
        for mask in removal_masks(pixel_ranks(attribution), counts, "morf"):
            work.append((image.numpy(), np.flatnonzero(mask.numpy())))
    benchmark.group = GROUP
    benchmark.pedantic(
        lambda: [noisy_linear_imputation(image, indices, noise=0.01) for image, indices in work],
        rounds=1,
        iterations=1,
    )
    record_median(GROUP, "reference imputer (MoRF, 3 channels)", benchmark)
