"""The model zoo: every torchvision model builds with random weights and maps [0, 1] images of
its input size to 1000 logits; weights files are checked against the architecture; names,
missing torchvision and missing data are refused with the fix.

The torchvision tests carry the `zoo` marker: `make test-zoo` runs them in .venv-zoo, whose torch
and torchvision import together (no torchvision build fits the CPU torch wheel of .venv).
"""

import pytest
import torch
from conftest import needs_torchvision

from idgi_fast.models import MODEL_NAMES, ZOO, load_model
from idgi_fast.models.zoo import ZooUnavailable, is_weights_file


def test_the_zoo_holds_the_studys_ten_models():
    assert set(ZOO) == {
        "densenet121",
        "densenet169",
        "densenet201",
        "inception_v3",
        "mobilenet_v2",
        "resnet50",
        "resnet101",
        "resnet152",
        "vgg16",
        "vgg19",
    }
    assert MODEL_NAMES[0] == "scenenet"
    assert (ZOO["inception_v3"].resize, ZOO["inception_v3"].crop) == (342, 299)
    assert all((e.resize, e.crop) == (256, 224) for n, e in ZOO.items() if n != "inception_v3")


def test_unknown_model_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet18'.*densenet121"):
        load_model("resnet18")


def test_weights_arguments_are_files_or_enum_members(tmp_path):
    assert is_weights_file(tmp_path / "w.pth") and is_weights_file("weights.pt") and is_weights_file("./w")
    assert not is_weights_file("IMAGENET1K_V1") and not is_weights_file("ResNet50_Weights.IMAGENET1K_V2")


def test_without_torchvision_the_error_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchvision(name, *args, **kwargs):
        if name.startswith("torchvision"):
            raise ModuleNotFoundError("No module named 'torchvision'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchvision)
    with pytest.raises(ZooUnavailable, match=r"idgi-fast\[zoo\]"):
        load_model("resnet50", "random")


@needs_torchvision
@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_maps_images_in_0_1_to_1000_logits(name):
    torch.manual_seed(0)
    model = load_model(name, "random")
    assert not model.training and model.crop == ZOO[name].crop
    images = torch.rand(1, 3, model.crop, model.crop)
    with torch.no_grad():
        logits = model(images)
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()
    # the normalisation is inside: the wrapped network sees (x - mean) / std
    with torch.no_grad():
        direct = model.network((images - model.mean) / model.std)
    torch.testing.assert_close(logits, direct)
    assert torch.allclose(model.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))


@needs_torchvision
def test_zoo_weights_files_round_trip_and_mismatches_are_named(tmp_path):
    torch.manual_seed(0)
    saved = load_model("mobilenet_v2", "random")
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(saved.network.state_dict(), path)
    loaded = load_model("mobilenet_v2", path)
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), saved(images), rtol=0, atol=0)
    with pytest.raises(ValueError, match="does not match resnet50's architecture"):
        load_model("resnet50", path)


@needs_torchvision
def test_unknown_weight_names_list_the_choices():
    with pytest.raises(ValueError, match="no weights 'IMAGENET1K_V9'.*IMAGENET1K_V1"):
        load_model("resnet50", "IMAGENET1K_V9")
    with pytest.raises(ValueError, match="for another architecture"):
        load_model("resnet50", "VGG16_Weights.IMAGENET1K_V1")


@needs_torchvision
def test_old_densenet_files_load(tmp_path):
    """DenseNet files saved before torchvision 0.3 name the layers `norm.1`; they load unchanged."""
    import re

    torch.manual_seed(0)
    model = load_model("densenet121", "random")
    old = {
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
        for k, v in model.network.state_dict().items()
    }
    assert any(".norm.1." in k for k in old)
    path = tmp_path / "densenet121-old.pth"
    torch.save(old, path)
    loaded = load_model("densenet121", path)
    assert torch.equal(
        loaded.network.features.denseblock1.denselayer1.norm1.weight,
        model.network.features.denseblock1.denselayer1.norm1.weight,
    )
