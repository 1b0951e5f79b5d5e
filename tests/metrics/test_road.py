"""ROAD (docs/metrics.md §15): the batched metric against the per-image reference on every
backend, batch sizes, the removal order, the noise, the areas, and Quantus's ROAD."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TinyCNN

from idgi_fast import evaluate
from idgi_fast.ops.native import native_error
from idgi_fast.reference.metrics.common import pixel_ranks
from idgi_fast.reference.metrics.road import (
    ROAD_PERCENTAGES,
    linear_imputation_reference,
    removal_masks,
    removed_counts,
    road_auc,
    road_images,
    road_noise,
)

BACKENDS = ["torch"] + (["native"] if native_error() is None else [])
KEYS = [f"road/{o}/{s}" for o in ("morf", "lerf") for s in ("probability", "accuracy")]


@pytest.fixture(scope="module")
def setup():
    model = TinyCNN().double().eval()
    images = torch.rand(4, 3, 15, 19, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    attributions = torch.randn(4, 3, 15, 19, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return model, images, attributions


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_every_backend_matches_the_reference(setup, noise):
    model, images, attributions = setup
    options = dict(metrics=["road"], road_noise=noise, road_percentages=[5, 25, 50, 75, 99.5])
    want = evaluate(model, images, attributions, backend="reference", **options)
    assert sorted(want.per_image) == sorted(KEYS)
    for backend in BACKENDS:
        got = evaluate(model, images, attributions, backend=backend, **options)
        for key in KEYS:
            assert (got.curves[key] - want.curves[key]).abs().max() <= 1e-6
            assert (got.per_image[key] - want.per_image[key]).abs().max() <= 1e-6
            assert abs(got.aggregate[key] - want.aggregate[key]) <= 1e-6
        assert got.details["road_percentages"] == [5, 25, 50, 75, 99.5]


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_size_and_batch_split_do_not_change_the_scores(setup, backend):
    model, images, attributions = setup
    whole = evaluate(model, images, attributions, metrics=["road"], backend=backend)
    small = evaluate(model, images, attributions, metrics=["road"], backend=backend, batch_size=3)
    parts = [
        evaluate(model, images[rows], attributions[rows], metrics=["road"], backend=backend)
        for rows in (slice(0, 1), slice(1, 4))
    ]
    for key in KEYS:
        assert (small.curves[key] - whole.curves[key]).abs().max() <= 1e-9
        split = torch.cat([part.curves[key] for part in parts])
        assert (split - whole.curves[key]).abs().max() <= 1e-9


def test_morf_removes_the_most_salient_pixels_and_lerf_the_least():
    saliency = torch.tensor([[5.0, 1.0, 3.0], [3.0, 0.0, 2.0]])  # a tie (3, 3): the lower flat index first
    ranks = pixel_ranks(saliency)
    counts = removed_counts(6, [20, 50, 99])
    assert counts == [1, 3, 5]
    morf, lerf = removal_masks(ranks, counts, "morf"), removal_masks(ranks, counts, "lerf")
    assert morf[1].tolist() == [[True, False, True], [True, False, False]]
    assert lerf[1].tolist() == [[False, True, False], [False, True, True]]
    assert morf.sum((1, 2)).tolist() == lerf.sum((1, 2)).tolist() == counts


def test_noise_is_sigma_times_the_seeded_field_at_removed_pixels_only():
    image = torch.rand(3, 9, 11, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ranks = pixel_ranks(torch.randn(9, 11, generator=torch.Generator().manual_seed(1)))
    epsilon = road_noise(7, 3, image)
    assert torch.equal(epsilon, road_noise(7, 3, image)) and not torch.equal(epsilon, road_noise(8, 3, image))
    noisy = road_images(image, ranks, [10, 50, 90], "lerf", 0.2, epsilon)
    clean = road_images(image, ranks, [10, 50, 90], "lerf", 0.0, None)
    masks = removal_masks(ranks, removed_counts(99, [10, 50, 90]), "lerf")[:, None].expand_as(noisy)
    assert torch.equal(noisy[~masks], clean[~masks])
    assert torch.allclose(noisy - clean, 0.2 * epsilon[1] * masks, atol=1e-15)


def test_same_seed_same_scores_other_seed_other_images(setup):
    model, images, attributions = setup
    first = evaluate(model, images, attributions, metrics=["road"], road_noise=0.5, road_seed=3)
    again = evaluate(model, images, attributions, metrics=["road"], road_noise=0.5, road_seed=3)
    other = evaluate(model, images, attributions, metrics=["road"], road_noise=0.5, road_seed=4)
    assert all(torch.equal(first.curves[k], again.curves[k]) for k in KEYS)
    assert any(not torch.equal(first.curves[k], other.curves[k]) for k in KEYS)


def test_area_is_the_trapezoid_over_the_removed_fraction():
    curves = torch.tensor([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2]], dtype=torch.float64)
    area = road_auc(curves, [10, 30, 90])
    assert torch.allclose(area, torch.tensor([0.2 * 0.75 + 0.6 * 0.25, 0.2 * 0.8], dtype=torch.float64))
    assert road_auc(curves[:, :1], [50]).tolist() == [0.0, 0.0]


def test_orders_can_be_chosen_and_the_default_percentages_are_the_references(setup):
    model, images, attributions = setup
    found = evaluate(model, images, attributions, metrics=["road"], road_orders="lerf")
    assert sorted(found.per_image) == ["road/lerf/accuracy", "road/lerf/probability"]
    assert found.details["road_percentages"] == list(ROAD_PERCENTAGES)
    assert found.curves["road/lerf/accuracy"].shape == (4, len(ROAD_PERCENTAGES))
    as_array = evaluate(model, images, attributions, metrics=["road"], road_percentages=np.array([10, 50]))
    assert as_array.details["road_percentages"] == [10.0, 50.0] and as_array.to_dict()["details"]


def pixel_classifier(height: int, width: int) -> torch.nn.Module:
    """A linear classifier of single-channel images (Quantus's ROAD imputes only those), whose
    prediction changes as pixels are imputed."""
    torch.manual_seed(11)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(height * width, 4)).eval()


def test_parity_with_quantus_road():
    """Quantus's ROAD (MoRF only, accuracy per percentage averaged over images) on the same
    images, attributions and noise 0 gives our aggregate MoRF accuracy curve."""
    quantus = pytest.importorskip("quantus")
    model = pixel_classifier(13, 16)  # float32: Quantus calls models in float32
    generator = torch.Generator().manual_seed(5)
    images = torch.rand(6, 1, 13, 16, generator=generator)
    saliency = torch.rand(6, 1, 13, 16, generator=generator)
    targets = model(images).argmax(1)
    metric = quantus.ROAD(percentages=list(ROAD_PERCENTAGES), noise=0.0, disable_warnings=True)
    theirs = metric(
        model=model, x_batch=images.numpy(), y_batch=targets.numpy(), a_batch=saliency.numpy(), device="cpu"
    )
    ours = evaluate(
        model, images, saliency[:, 0], targets, metrics=["road"], road_noise=0.0, road_orders="morf"
    )
    assert list(theirs) == list(ROAD_PERCENTAGES)
    assert len(set(theirs.values())) > 2  # the prediction does change along the curve
    assert ours.aggregate_curves["road/morf/accuracy"].tolist() == pytest.approx(
        list(theirs.values()), abs=1e-12
    )
    # and the imputed images themselves, at every percentage, through the reference
    ranks = pixel_ranks(saliency[0, 0])
    masks = removal_masks(ranks, removed_counts(13 * 16, ROAD_PERCENTAGES), "morf")
    from quantus.functions.perturb_func import noisy_linear_imputation

    for mask in masks:
        indices = torch.nonzero(mask.flatten()).flatten().numpy()
        theirs_image = noisy_linear_imputation(images[0].double().numpy(), indices, noise=0.0)
        ours_image = linear_imputation_reference(images[0].double(), mask)
        assert abs(ours_image.numpy() - theirs_image).max() <= 1e-6
