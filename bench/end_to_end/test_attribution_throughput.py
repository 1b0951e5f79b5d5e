"""Attribution throughput: every method ± IDGI on every backend, against the model-only floor
(the same forward + backward passes, same points per model call, no path logic).

Workloads: the embedded SceneNet at 224×224 (8 images, steps = 32) everywhere; torchvision's
ResNet-50 with random weights (16 images, steps = 128) on CUDA when torchvision is installed.
The triton backend runs on CUDA only, native on the CPU where it is built. On CUDA every fast
entry runs with CUDA graphs off and on, beside the floor replayed as one graph per chunk.
Run: `.venv/bin/python -m pytest bench/ --benchmark-group-by=group`.
"""

from __future__ import annotations

import pytest
import torch

from bench.floor import graphed_floor, model_only_floor
from bench.timing import synchronised
from bench.workloads import SLOW_REFERENCE, Workloads, random_resnet50
from idgi_fast import explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.models.toy import load_scenenet
from idgi_fast.ops.native import native_error
from idgi_fast.validation import default_batch_size

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
CHUNK = default_batch_size(
    DEVICE, 3 * 224 * 224
)  # the engine's default for these 224² inputs, for the floor alike
# native: the C++ CPU ops (ops/native.py), on the CPU where they could be built
BACKENDS = ["reference", "torch"] + (["triton"] if CUDA else ["native"] if native_error() is None else [])
METHODS = [
    ("ig", False),
    ("ig", True),
    ("blur_ig", False),
    ("blur_ig", True),
    ("guided_ig", False),
    ("guided_ig", True),
]


def embedded():
    scenes = generate_scenes(8, seed=1)
    return load_scenenet().to(DEVICE), scenes.images.to(DEVICE), scenes.labels.to(DEVICE), 32


def resnet50():
    model = random_resnet50("ResNet-50 at 16 images × 129 points is a GPU workload")
    images = torch.rand(16, 3, 224, 224, device=DEVICE)
    return model, images, torch.randint(0, 1000, (16,), device=DEVICE), 128


WORKLOADS = Workloads(
    {"embedded SceneNet, 8 images, steps=32": embedded, "ResNet-50 random, 16 images, steps=128": resnet50}
)


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_floor(benchmark, record_median, name):
    model, images, labels, steps = WORKLOADS[name]
    benchmark.group = name
    benchmark.pedantic(
        synchronised(lambda: model_only_floor(model, images, labels, steps + 1, CHUNK)),
        rounds=3,
        iterations=1,
        warmup_rounds=1,
    )
    record_median(name, "floor", benchmark)


@pytest.mark.parametrize("name", WORKLOADS.names())
def test_graphed_floor(benchmark, record_median, name):
    """The floor's chunk replayed as one CUDA graph: what launch overhead leaves of it."""
    if not CUDA:
        pytest.skip("CUDA graphs need CUDA")
    model, images, labels, steps = WORKLOADS[name]
    benchmark.group = name
    run = graphed_floor(model, images, labels, steps + 1, CHUNK)
    benchmark.pedantic(synchronised(run), rounds=3, iterations=1, warmup_rounds=1)
    record_median(name, "floor (one CUDA graph per chunk)", benchmark)


@pytest.mark.parametrize("graphs", [False, True], ids=["graphs off", "graphs on"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method,idgi", METHODS)
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_explain(benchmark, record_median, name, method, idgi, backend, graphs):
    model, images, labels, steps = WORKLOADS[name]
    if backend == "reference" and name.startswith("ResNet") and method in SLOW_REFERENCE:
        pytest.skip("the reference's per-image Guided IG loop takes minutes here")
    if graphs and (not CUDA or backend == "reference"):
        pytest.skip("CUDA graphs run on CUDA with the fast backends")
    benchmark.group = name
    run = synchronised(
        lambda: explain(
            model,
            images,
            target=labels,
            method=method,
            steps=steps,
            idgi=idgi,
            backend=backend,
            batch_size=CHUNK,
            graphs=graphs if backend != "reference" else None,
        )
    )
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    shown = f"{backend}, graphs" if graphs else backend
    record_median(name, f"{method}{' + IDGI' if idgi else ''} [{shown}]", benchmark)


@pytest.mark.parametrize("internal_batch_size", [None, 16])
@pytest.mark.parametrize("implementation", ["captum", "idgi_fast.captum"])
@pytest.mark.parametrize("name", WORKLOADS.names())
def test_captum_integrated_gradients(benchmark, record_median, name, implementation, internal_batch_size):
    """Captum's IG against our drop-in, both as a Captum user calls them: None builds all n_steps
    scaled inputs at once in Captum (our engine then takes its default chunk), 16 sends 16 per
    call in both; with the convergence delta, as Captum's tests ask for it."""
    model, images, labels, steps = WORKLOADS[name]
    if implementation == "captum":
        attr = pytest.importorskip("captum.attr")
        explainer = attr.IntegratedGradients(model)
    else:
        from idgi_fast.captum import IntegratedGradients

        explainer = IntegratedGradients(model)
    benchmark.group = name
    run = synchronised(
        lambda: explainer.attribute(
            images,
            target=labels,
            n_steps=steps + 1,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
    )
    benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    record_median(name, f"IG, {implementation}, internal_batch_size={internal_batch_size}", benchmark)


NOISE_SAMPLES = 16
NOISE_GROUP = "noise tunnel: SceneNet, 4 images, IG, 16 samples, 16 steps"


def noise_workload():
    model, images, labels, _ = WORKLOADS["embedded SceneNet, 8 images, steps=32"]
    return model, images[:4], labels[:4], 16


def test_noise_tunnel_floor(benchmark, record_median):
    """Forward + backward over every sample's path points: 4 images × 16 samples × 17 points."""
    model, images, labels, steps = noise_workload()
    benchmark.group = NOISE_GROUP
    noisy = images.repeat_interleave(NOISE_SAMPLES, dim=0)
    run = synchronised(
        lambda: model_only_floor(model, noisy, labels.repeat_interleave(NOISE_SAMPLES), steps + 1, CHUNK)
    )
    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    record_median(NOISE_GROUP, "floor", benchmark)


@pytest.mark.parametrize("implementation", ["captum", "idgi_fast.captum", "explain"])
def test_noise_tunnel(benchmark, record_median, implementation):
    """SmoothGrad over IG: Captum's NoiseTunnel, our drop-in (samples streamed 2 at a time, as a
    user bounding memory would ask for) and explain(noise=...) (the engine's own grouping)."""
    model, images, labels, steps = noise_workload()
    benchmark.group = NOISE_GROUP
    options = dict(nt_samples=NOISE_SAMPLES, stdevs=0.15, target=labels, n_steps=steps + 1)
    if implementation == "explain":
        noise = {"type": "smoothgrad", "samples": NOISE_SAMPLES, "stdev": 0.15}

        def attribute():
            return explain(
                model, images, target=labels, steps=steps, idgi=False, noise=noise, batch_size=CHUNK
            )
    else:
        if implementation == "captum":
            attr = pytest.importorskip("captum.attr")
        else:
            from idgi_fast import captum as attr
        tunnel = attr.NoiseTunnel(attr.IntegratedGradients(model))

        def attribute():
            return tunnel.attribute(images, nt_samples_batch_size=2, internal_batch_size=CHUNK, **options)

    benchmark.pedantic(synchronised(attribute), rounds=3, iterations=1, warmup_rounds=1)
    record_median(NOISE_GROUP, f"SmoothGrad IG, {implementation}", benchmark)


SHAP_GROUP = "GradientSHAP: SceneNet, 8 images, 32 samples"


def test_gradient_shap_floor(benchmark, record_median):
    """Forward + backward of the raw logit at 8 images × 32 points, 32 per call."""
    model, images, labels, _ = WORKLOADS["embedded SceneNet, 8 images, steps=32"]
    benchmark.group = SHAP_GROUP

    def floor():
        index = torch.arange(8 * 32, device=images.device) % 8
        for start in range(0, len(index), CHUNK):
            rows = index[start : start + CHUNK]
            leaf = images[rows].detach().requires_grad_(True)
            torch.autograd.grad(model(leaf).gather(1, labels[rows, None]).sum(), leaf)

    benchmark.pedantic(synchronised(floor), rounds=3, iterations=1, warmup_rounds=1)
    record_median(SHAP_GROUP, "floor", benchmark)


@pytest.mark.parametrize("implementation", ["captum", "idgi_fast.captum", "idgi_fast.gradient_shap"])
def test_gradient_shap(benchmark, record_median, implementation):
    """Captum's GradientShap (every sample's point in one model call) against our drop-in
    (internal_batch_size points per call) and the seeded torch-first gradient_shap (samples
    folded in a model call's worth at a time), baselines drawn from 3 darkened and a black image."""
    model, images, labels, _ = WORKLOADS["embedded SceneNet, 8 images, steps=32"]
    benchmark.group = SHAP_GROUP
    distribution = torch.cat([images[:3] * 0.3, torch.zeros_like(images[:1])])
    if implementation == "idgi_fast.gradient_shap":
        from idgi_fast import gradient_shap

        def attribute():
            return gradient_shap(
                model, images, distribution, labels, samples=32, stdev=0.05, output="logit", batch_size=CHUNK
            )
    else:
        attr = pytest.importorskip("captum.attr") if implementation == "captum" else None
        if attr is None:
            from idgi_fast import captum as attr
        shap = attr.GradientShap(model)
        options = dict(n_samples=32, stdevs=0.05, target=labels)
        if implementation != "captum":
            options["internal_batch_size"] = CHUNK

        def attribute():
            return shap.attribute(images, distribution, **options)

    benchmark.pedantic(synchronised(attribute), rounds=3, iterations=1, warmup_rounds=1)
    record_median(SHAP_GROUP, f"GradientShap, {implementation}", benchmark)


XRAI_GROUP = "XRAI: SceneNet, 4 images, given IG maps"


@pytest.mark.parametrize("implementation", ["PAIR saliency", "idgi_fast.xrai"])
def test_xrai(benchmark, record_median, implementation):
    """Segmentation and region selection only (the base attribution is given to both)."""
    pytest.importorskip("skimage")
    model, images, labels, _ = WORKLOADS["embedded SceneNet, 8 images, steps=32"]
    images, labels = images[:4], labels[:4]
    maps = explain(model, images, target=labels, steps=16, idgi=False).base
    benchmark.group = XRAI_GROUP
    if implementation == "PAIR saliency":
        pair = pytest.importorskip("saliency.core")

        def run():
            for image, attribution in zip(images, maps):
                pair.XRAI().GetMaskWithDetails(
                    image.permute(1, 2, 0).double().cpu().numpy(),
                    call_model_function=None,
                    base_attribution=attribution.permute(1, 2, 0).double().cpu().numpy(),
                )
    else:
        from idgi_fast.xrai import xrai

        def run():
            xrai(images, maps)

    benchmark.pedantic(synchronised(run), rounds=3, iterations=1, warmup_rounds=1)
    record_median(XRAI_GROUP, implementation, benchmark)
