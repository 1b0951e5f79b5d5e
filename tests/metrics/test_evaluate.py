"""`evaluate` as a whole: bad input, plain-data results, invariances, localization, JPEG stability,
step sensitivity, and scores on the embedded model."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import TinyCNN

import idgi_fast
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.metrics import attribution_function, energy_in_mask, evaluate, evaluate_steps, pointing_game
from idgi_fast.metrics.stability import jpeg_round_trip, jpeg_stability, map_mse, normalised_maps, quantised
from idgi_fast.models.toy import load_scenenet

SMALL = dict(msssim_win_size=3, msssim_scales=3, insertion_levels=5, pic_levels=6)


@pytest.fixture
def setup():
    model = TinyCNN().double().eval()
    images = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    attributions = torch.randn(3, 3, 24, 24, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return model, images, attributions


# ---- bad input ------------------------------------------------------------------------------------


def test_bad_input_gets_a_clear_error(setup):
    model, images, attributions = setup
    with pytest.raises(ValueError, match=r"do not match images of shape \(3, 3, 24, 24\)"):
        evaluate(model, images, attributions[:, :, :20], 0)
    with pytest.raises(ValueError, match=r"do not match"):
        evaluate(model, images, attributions[:2], 0)
    with pytest.raises(ValueError, match=r"target must lie in \[0, 5\)"):
        evaluate(model, images, attributions, 7, ["insertion"])
    with pytest.raises(ValueError, match=r"target must lie in \[0, K\)"):
        evaluate(model, images, attributions, -1, ["insertion"])
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\] for the entropy information axis"):
        evaluate(model, images * 2, attributions, 0, ["sic"], **SMALL)
    with pytest.raises(ValueError, match=r"images must lie in \[0, 1\] for the JPEG stability metric"):
        evaluate(model, images - 0.5, attributions, 0, ["stability"], explain_fn=lambda x, t: x)
    evaluate(
        model, images * 2, attributions, 0, ["insertion", "sic"], information=["msssim"], **SMALL
    )  # no uint8: fine
    with pytest.raises(ValueError, match="insertion_levels must be an int ≥ 2"):
        evaluate(model, images, attributions, 0, ["insertion"], insertion_levels=1)
    with pytest.raises(ValueError, match="pic_levels must be an int ≥ 2"):
        evaluate(model, images, attributions, 0, ["sic"], pic_levels=1, msssim_win_size=3, msssim_scales=3)
    with pytest.raises(ValueError, match="empty batch"):
        evaluate(model, images[:0], attributions[:0], 0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        evaluate(model, images, attributions.masked_fill(attributions > 2, float("nan")), 0)
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(model, images, attributions, 0, ["insertion", "accuracy"])
    with pytest.raises(TypeError, match="unknown evaluate option.*insertion_canvas"):
        evaluate(model, images, attributions, 0, canvas="black")
    with pytest.raises(ValueError, match="insertion_canvas must be one of"):
        evaluate(model, images, attributions, 0, ["insertion"], insertion_canvas="grey")
    with pytest.raises(ValueError, match="pass masks="):
        evaluate(model, images, attributions, 0, ["localization"])
    with pytest.raises(TypeError, match="pass explain_fn="):
        evaluate(model, images, attributions, 0, ["stability"])
    with pytest.raises(ValueError, match="min_pred must be a probability"):
        evaluate(model, images, attributions, 0, ["sic"], min_pred=80, **SMALL)
    with pytest.raises(TypeError, match="float32 or float64"):
        evaluate(model, (images * 255).to(torch.uint8), attributions, 0)


# ---- results as data, invariances ------------------------------------------------------------------


def test_results_are_plain_json_data(setup):
    model, images, attributions = setup
    result = evaluate(
        model,
        images,
        attributions,
        None,
        ["insertion", "deletion", "sic", "aic", "localization"],
        masks=torch.ones(3, 24, 24, dtype=torch.bool),
        **SMALL,
    )
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(data["aggregate"]) >= {
        "insertion/probability",
        "deletion/probability_ratio",
        "sic/entropy",
        "aic/msssim",
        "energy_in_mask",
        "pointing_game",
    }
    assert len(data["per_image"]["insertion/probability"]) == 3
    assert data["options"]["insertion_levels"] == 5
    for key, value in result.aggregate.items():
        assert (data["aggregate"][key] is None) == math.isnan(value)
    assert "| insertion/probability" in result.table()


def test_scores_do_not_depend_on_batch_size_and_repeat_exactly(setup):
    model, images, attributions = setup
    metrics = ["insertion", "deletion", "sic", "aic"]
    first = evaluate(model, images, attributions, 1, metrics, **SMALL)
    again = evaluate(model, images, attributions, 1, metrics, **SMALL)
    one_by_one = evaluate(model, images, attributions, 1, metrics, batch_size=1, **SMALL)
    split = [
        evaluate(model, images[i : i + 1], attributions[i : i + 1], 1, metrics, **SMALL) for i in range(3)
    ]
    for key, values in first.per_image.items():
        assert (
            torch.equal(
                values,
                again.per_image[key],
            )
            or torch.isnan(values).all()
        )
        assert torch.allclose(values, one_by_one.per_image[key], atol=1e-12, equal_nan=True)
        assert torch.allclose(
            values, torch.cat([s.per_image[key] for s in split]), atol=1e-12, equal_nan=True
        )


def test_a_saliency_map_scores_like_its_attribution(setup):
    model, images, attributions = setup
    from_attribution = evaluate(model, images, attributions, 0, ["insertion"], reduce="sum_abs", **SMALL)
    from_map = evaluate(model, images, attributions.abs().sum(1), 0, ["insertion"], **SMALL)
    assert from_attribution.aggregate == from_map.aggregate


def test_localization_through_evaluate(setup):
    model, images, attributions = setup
    masks = torch.zeros(3, 24, 24, dtype=torch.bool)
    masks[:, 4:12, 6:20] = True
    result = evaluate(model, images, attributions, 0, ["localization"], masks=masks)
    saliency = attributions.sum(1)
    assert torch.equal(result.per_image["energy_in_mask"], energy_in_mask(saliency, masks))
    assert torch.equal(result.per_image["pointing_game"], pointing_game(saliency, masks).double())


# ---- JPEG stability -------------------------------------------------------------------------------


def test_jpeg_round_trip_is_a_small_uint8_perturbation():
    images = quantised(torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    decoded = jpeg_round_trip(images, quality=75)
    assert decoded.shape == images.shape and decoded.dtype == images.dtype
    assert torch.equal(quantised(decoded), decoded)
    assert 0 < float((decoded - images).abs().mean()) < 0.25
    with pytest.raises(ValueError, match="jpeg_quality"):
        jpeg_round_trip(images, quality=0)


def test_normalised_maps():
    attributions = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    l1 = normalised_maps(attributions, "l1")
    assert torch.allclose(l1.abs().flatten(1).sum(1), torch.ones(2, dtype=torch.float64))
    signed = normalised_maps(attributions, "sum")
    assert torch.allclose(signed.flatten(1).sum(1), torch.ones(2, dtype=torch.float64))
    assert torch.equal(
        normalised_maps(torch.zeros(1, 3, 5, 6), "l1"), torch.zeros(1, 5, 6, dtype=torch.float64)
    )


def test_stability_is_higher_for_identical_maps_than_for_perturbed_ones():
    images = quantised(torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1)))
    targets = torch.zeros(2, dtype=torch.long)
    fixed = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    identical = jpeg_stability(lambda x, t: fixed, images, fixed, targets)
    assert identical.reference == "given" and identical.score == math.inf
    following = jpeg_stability(lambda x, t: x, images, images, targets)  # the map moves with the pixels
    assert math.isfinite(following.score) and following.score < identical.score
    noise = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    noisier = jpeg_stability(lambda x, t: x + 0.5 * noise * (x != images), images, images, targets)
    assert noisier.score < following.score
    # the unperturbed map is recomputed on the 8-bit images when the images are not 8-bit
    fine = images + 0.3 / 255
    seen = []
    result = jpeg_stability(lambda x, t: seen.append(x) or x, fine, fine, targets)
    assert result.reference == "quantised" and torch.equal(seen[0], quantised(fine))
    assert map_mse(fixed, fixed).tolist() == [0.0, 0.0]


def test_stability_through_evaluate_with_an_attribution_function(tiny_cnn64):
    images = quantised(
        torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    )
    explain_fn = attribution_function(tiny_cnn64, method="ig", steps=8, idgi=True)
    attributions = explain_fn(images, torch.tensor([1, 2]))
    result = evaluate(tiny_cnn64, images, attributions, [1, 2], ["stability"], explain_fn=explain_fn)
    jpeg = idgi_fast.explain(tiny_cnn64, jpeg_round_trip(images), [1, 2], "ig", steps=8).attribution(
        idgi=True
    )
    expected = -math.log10(float(map_mse(attributions, jpeg).mean()))
    assert result.aggregate["stability"] == pytest.approx(expected, rel=1e-12)
    assert result.details["stability_reference"] == "given"


# ---- step sensitivity -----------------------------------------------------------------------------


def test_step_sensitivity_from_one_compute_at_run(tiny_cnn64):
    images = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    result = idgi_fast.explain(tiny_cnn64, images, [0, 3], "ig", steps=8, compute_at=[2])
    sensitivity = evaluate_steps(
        tiny_cnn64, images, result, metrics=["insertion", "deletion"], insertion_levels=6
    )
    assert (sensitivity.low, sensitivity.high) == (2, 8)
    direct = idgi_fast.explain(tiny_cnn64, images, [0, 3], "ig", steps=2).attribution(idgi=True)
    at_two = evaluate(tiny_cnn64, images, direct, [0, 3], ["insertion", "deletion"], insertion_levels=6)
    for key, value in sensitivity.evaluations[2].aggregate.items():
        assert value == pytest.approx(at_two.aggregate[key], abs=1e-12)
        high = sensitivity.evaluations[8].aggregate[key]
        assert sensitivity.difference[key] == pytest.approx(high - value, abs=1e-15)
    with pytest.raises(ValueError, match="compute_at"):
        evaluate_steps(tiny_cnn64, images, idgi_fast.explain(tiny_cnn64, images, 0, "ig", steps=4))
    with pytest.raises(ValueError, match="no attribution for steps=3"):
        evaluate_steps(tiny_cnn64, images, result, counts=(3, 8))


# ---- the embedded model -----------------------------------------------------------------------------


def test_the_true_object_scores_better_than_a_random_map_on_the_embedded_model():
    model = load_scenenet()
    scenes = generate_scenes(3, seed=1)
    random_map = torch.rand(3, 224, 224, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    true_map = scenes.masks.to(torch.float64) + 0.01 * random_map  # the object first, in random order
    options = dict(metrics=["insertion", "deletion", "sic"], insertion_canvas="blur", information=["msssim"])
    true = evaluate(model, scenes.images, true_map, scenes.labels, **options)
    rand = evaluate(model, scenes.images, random_map, scenes.labels, **options)
    assert true.aggregate["insertion/probability"] > rand.aggregate["insertion/probability"] + 0.05
    assert true.aggregate["deletion/probability"] < rand.aggregate["deletion/probability"] - 0.05
    assert true.aggregate["sic/msssim"] > rand.aggregate["sic/msssim"]
