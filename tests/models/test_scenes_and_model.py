"""The embedded synthetic scenes and the shipped SceneNet."""

from __future__ import annotations

import torch

from idgi_fast.data.scenes import SHAPE_CLASSES, generate_scenes, render_scene
from idgi_fast.models.toy import SceneNet, load_scenenet, model_card, weights_path
from idgi_fast.models.train import train_scenenet


def test_scenes_are_a_function_of_seed_and_index():
    a = generate_scenes(6, seed=5, start=10)
    b = generate_scenes(6, seed=5, start=10)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    image, mask, label = render_scene(12, seed=5)
    assert torch.equal(image, a.images[2]) and torch.equal(mask, a.masks[2]) and label == int(a.labels[2])
    other = generate_scenes(6, seed=6, start=10)
    assert not torch.equal(a.images, other.images)


def test_scene_content():
    scenes = generate_scenes(12, seed=0)
    assert scenes.images.shape == (12, 3, 224, 224) and scenes.images.dtype == torch.float32
    assert float(scenes.images.min()) >= 0 and float(scenes.images.max()) <= 1
    assert scenes.labels.tolist() == [i % len(SHAPE_CLASSES) for i in range(12)]
    area = scenes.masks.flatten(1).float().mean(dim=1)
    assert bool((area > 0.01).all()) and bool((area < 0.6).all())
    # the object differs from the background it covers: mean colour inside vs outside the mask
    for image, mask in zip(scenes.images, scenes.masks):
        inside = image[:, mask].mean(dim=1)
        outside = image[:, ~mask].mean(dim=1)
        assert float((inside - outside).norm()) > 0.1


def test_embedded_model_loads_offline_and_classifies_held_out_scenes():
    assert weights_path().stat().st_size <= 5 * 2**20
    model = load_scenenet()
    assert not model.training
    card = model_card()
    assert card["held_out"]["accuracy"] >= 0.95 and card["held_out"]["seed"] != card["train"]["seed"]
    scenes = generate_scenes(
        60, seed=card["held_out"]["seed"], start=card["held_out"]["images"]
    )  # unseen indices too
    with torch.no_grad():
        accuracy = float((model(scenes.images).argmax(1) == scenes.labels).float().mean())
    assert accuracy >= 0.9, accuracy


def test_retraining_is_reproducible(tmp_path):
    cards = []
    for name in ("a", "b"):
        cards.append(
            train_scenenet(
                tmp_path / name / "scenenet.pt", train_images=24, held_out_images=12, epochs=1, batch=12
            )
        )
    a = torch.load(tmp_path / "a" / "scenenet.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "scenenet.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert cards[0]["held_out"] == cards[1]["held_out"]
    assert not all(torch.equal(a[k], v) for k, v in SceneNet().state_dict().items())  # it did train


def test_the_scene_dataset_batches_to_the_stacked_scenes():
    import pytest

    from idgi_fast.data import SceneDataset

    dataset = SceneDataset(5, seed=1, start=3)
    batches = list(torch.utils.data.DataLoader(dataset, batch_size=2))
    stacked = generate_scenes(5, seed=1, start=3)
    assert len(dataset) == 5 and [b[0].shape[0] for b in batches] == [2, 2, 1]
    assert torch.equal(torch.cat([b[0] for b in batches]), stacked.images)
    assert torch.equal(torch.cat([b[1] for b in batches]), stacked.labels)
    assert torch.equal(torch.cat([b[2] for b in batches]), stacked.masks)
    assert torch.equal(dataset[-1][0], stacked.images[-1])
    with pytest.raises(IndexError, match="outside this dataset of 5"):
        dataset[5]


def test_ig_and_blur_ig_depend_on_batch_size_only_by_float32_rounding():
    """The embedded model in float32 on held-out scenes: batch_size=1 against the default moves IG
    and Blur IG by rounding (≈1e-6 relative). Guided IG is not held to this: it ranks every
    gradient, so last-bit differences can change its path (the registry says so)."""
    import idgi_fast
    from idgi_fast.data.scenes import generate_scenes
    from idgi_fast.methods import METHODS
    from idgi_fast.metrics.stability import quantised
    from idgi_fast.models import load_model

    assert [name for name, spec in METHODS.items() if spec.batch_sensitive] == ["guided_ig"]
    model = load_model("scenenet")
    scenes = generate_scenes(2, seed=1)
    images = quantised(scenes.images)
    for method in ("ig", "blur_ig"):
        default = idgi_fast.explain(model, images, target=scenes.labels, method=method, steps=8)
        single = idgi_fast.explain(model, images, target=scenes.labels, method=method, steps=8, batch_size=1)
        for idgi in (False, True):
            a, b = default.attribution(idgi=idgi), single.attribution(idgi=idgi)
            relative = (a - b).flatten(1).norm(dim=1) / a.flatten(1).norm(dim=1)
            assert relative.max() < 1e-5, (method, idgi, relative)
