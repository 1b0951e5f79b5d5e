"""SIC/AIC: bokeh images, information axes, curves, skip rules and aggregation (docs/semantics.md §6)."""

from __future__ import annotations

import math

import pytest
import pytorch_msssim
import torch
from torch import nn

from idgi_fast.geometry import gaussian_blur
from idgi_fast.metrics import evaluate
from idgi_fast.metrics.stability import quantised
from idgi_fast.reference.metrics.information import composed_msssim, compressed_sizes, msssim
from idgi_fast.reference.metrics.pic import (
    CURVE_POINTS,
    PAIR_THRESHOLDS,
    aggregate_curves,
    blur_bokeh,
    curve_auc,
    interpolate_from_revealed,
    pair_always_revealed,
    pair_bokeh,
    pic_curve,
)


class Brightness(nn.Module):
    """Two classes with logits [scale·(mean(x) − offset), 0]:
    p(class 0) = sigmoid(scale·(mean(x) − offset))."""

    def __init__(self, scale: float, offset: float = 0.0):
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, x):
        score = self.scale * (x.flatten(1).mean(1) - self.offset)
        return torch.stack([score, torch.zeros_like(score)], dim=1)


class Constant(nn.Module):
    """Ignores its input: p(class 0) = 0.9 for every image."""

    def forward(self, x):
        return torch.tensor([math.log(9.0), 0.0], dtype=x.dtype).expand(x.shape[0], 2)


def noise_images(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def random_saliency(n: int, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


SMALL_MSSSIM = dict(msssim_win_size=3, msssim_scales=4)
CONFIDENT = 2 * math.log(9.0)  # p(class 0) = 0.9 at mean brightness 0.5


# ---- bokeh images and information axes -----------------------------------------------------------


def test_blur_bokeh_starts_at_the_canvas_and_ends_at_the_input():
    image, saliency = noise_images(1)[0], random_saliency(1)[0]
    stack = blur_bokeh(image, saliency, sigma=4.0, levels=25)
    assert stack.shape == (25, 3, 32, 32)
    assert torch.equal(stack[0], gaussian_blur(image[None], 4.0, "zeros")[0])
    assert torch.equal(stack[-1], image)
    revealed = (stack == image).all(dim=1).flatten(1).sum(1)
    assert (revealed[1:] >= revealed[:-1]).all()


def test_entropy_increases_with_revealed_pixels_on_a_textured_image():
    image, saliency = noise_images(1)[0], random_saliency(1)[0]
    stack = blur_bokeh(image, saliency, sigma=2.0, levels=6)
    webp = compressed_sizes(stack, "webp")
    assert (webp[1:] > webp[:-1]).all(), webp
    png = compressed_sizes(stack, "png")
    assert (png[1:] >= png[:-1]).all() and png[-1] > png[0], png


def test_msssim_of_an_image_with_itself_is_one():
    x = noise_images(2, size=176)
    assert torch.allclose(msssim(x, x), torch.ones(2, dtype=torch.float64), rtol=0, atol=1e-12)
    small = noise_images(2, size=40)
    assert torch.allclose(
        msssim(small, small, win_size=3, scales=3), torch.ones(2, dtype=torch.float64), atol=1e-12
    )
    assert (msssim(x, x.flip(0)) < 0.5).all()


def test_fewer_scales_are_composed_exactly_as_pytorch_msssim_composes_five():
    x = noise_images(2, size=171)
    y = (x + 0.2 * noise_images(2, size=171, seed=9)).clamp(0, 1)
    assert torch.equal(
        composed_msssim(x, y, 11, 5), pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    )


def test_images_too_small_for_msssim_get_a_fix_or_adapt():
    x = noise_images(1, size=64)
    with pytest.raises(ValueError, match=r"too small for MS-SSIM.*msssim_win_size=3, msssim_scales=5"):
        msssim(x, x)
    with pytest.raises(ValueError, match="msssim_win_size"):
        evaluate(
            Brightness(CONFIDENT).double(), x, random_saliency(1, 64), 0, ["sic"], information=["msssim"]
        )
    result = evaluate(
        Brightness(CONFIDENT).double(),
        x,
        random_saliency(1, 64),
        0,
        ["sic"],
        information=["msssim"],
        msssim_win_size=3,
    )
    assert math.isfinite(result.aggregate["sic/msssim"])


# ---- curves ---------------------------------------------------------------------------------------


def test_diagonal_curve_has_auc_one_half():
    levels = torch.linspace(0, 1, 25, dtype=torch.float64)
    curve = pic_curve(levels, levels)
    assert curve.shape == (CURVE_POINTS + 1,)
    assert torch.allclose(curve, torch.linspace(0, 1, CURVE_POINTS + 1, dtype=torch.float64), atol=1e-12)
    assert float(curve_auc(curve)) == pytest.approx(0.5, abs=1e-12)


def test_curve_takes_the_running_maximum_and_sorts_by_information():
    curve = pic_curve(
        torch.tensor([0.0, 0.6, 0.3, 1.0], dtype=torch.float64),
        torch.tensor([0.0, 0.5, 0.8, 1.0], dtype=torch.float64),
    )
    # running max keeps [0, 0.5, 0.8, 1]; sorted by x: (0,0) (0.3,0.8) (0.6,0.5) (1,1)
    assert float(curve[150]) == pytest.approx(0.4)
    assert float(curve[450]) == pytest.approx(0.65)
    assert float(curve[800]) == pytest.approx(0.75)
    tied = pic_curve(
        torch.tensor([0.5, 0.5], dtype=torch.float64), torch.tensor([0.2, 0.1], dtype=torch.float64)
    )
    assert float(tied[500]) == pytest.approx(0.2)  # the later level wins a tie, after the running max
    assert float(tied[250]) == pytest.approx(0.1)


def test_median_and_mean_aggregation_match_a_hand_computation():
    curves = torch.tensor([[1.0, 3.0], [3.0, 1.0], [2.0, 2.0], [10.0, 0.0]], dtype=torch.float64)
    assert aggregate_curves(curves, "median").tolist() == [2.5, 1.5]
    assert aggregate_curves(curves, "mean").tolist() == [4.0, 1.5]
    assert aggregate_curves(curves[:3], "median").tolist() == [2.0, 2.0]
    assert torch.isnan(aggregate_curves(curves[:0], "median")).all()
    with pytest.raises(ValueError, match="aggregate must be one of"):
        aggregate_curves(curves, "max")


def test_reported_auc_is_the_auc_of_the_aggregated_curve():
    images, saliency = noise_images(4), random_saliency(4)
    result = evaluate(Brightness(CONFIDENT).double(), images, saliency, 0, ["sic", "aic"], **SMALL_MSSSIM)
    for key in ("sic/entropy", "sic/msssim"):
        expected = aggregate_curves(result.curves[key], "median")
        assert torch.equal(result.aggregate_curves[key], expected)
        assert result.aggregate[key] == pytest.approx(float(curve_auc(expected)), abs=1e-15)
        assert torch.allclose(result.per_image[key], curve_auc(result.curves[key]))
    mean = evaluate(
        Brightness(CONFIDENT).double(),
        images,
        saliency,
        0,
        ["sic"],
        information=["entropy"],
        sic_aggregate="mean",
    )
    assert torch.allclose(mean.aggregate_curves["sic/entropy"], result.curves["sic/entropy"].mean(0))


def test_information_normalisation_and_msssim_options():
    images, saliency = noise_images(2), random_saliency(2)
    raw = evaluate(Brightness(CONFIDENT).double(), images, saliency, 0, ["sic"], **SMALL_MSSSIM)
    ends = evaluate(
        Brightness(CONFIDENT).double(), images, saliency, 0, ["sic"], msssim_norm="endpoints", **SMALL_MSSSIM
    )
    levels = raw.details["pic_levels"]
    assert torch.allclose(levels["msssim"][:, -1], torch.ones(2, dtype=torch.float64), atol=1e-12)
    assert (levels["msssim"][:, 0] > 0).all()  # the raw axis starts above 0 ...
    assert not torch.allclose(
        raw.per_image["sic/msssim"], ends.per_image["sic/msssim"]
    )  # ... the normalised one at 0
    assert torch.equal(raw.per_image["sic/entropy"], ends.per_image["sic/entropy"])
    assert (levels["entropy"][:, 0] < raw.details["pic_input"]["entropy"]).all()


# ---- skip rules -----------------------------------------------------------------------------------


def test_every_skip_rule_is_applied_counted_and_reported():
    images, saliency = noise_images(3), random_saliency(3)
    kept = evaluate(Brightness(CONFIDENT).double(), images, saliency, 0, ["sic", "aic"], **SMALL_MSSSIM)
    for key in ("sic/entropy", "sic/msssim"):
        assert kept.skipped[key]["images"] == 0 and torch.isfinite(kept.per_image[key]).all()
    for key in ("aic/entropy", "aic/msssim"):  # the darker canvas is still class 0: AIC has nothing to gain
        assert kept.skip_reasons[key] == [["canvas_not_less_predictive"]] * 3

    # a sharp threshold between the darker canvas and the input: now AIC has something to measure
    sharp = evaluate(Brightness(100.0, offset=0.4).double(), images, saliency, 0, ["aic"], **SMALL_MSSSIM)
    for key in ("aic/entropy", "aic/msssim"):
        assert sharp.skipped[key]["images"] == 0
        assert ((sharp.per_image[key] > 0) & (sharp.per_image[key] < 1)).all()
    accuracy = (sharp.details["pic_levels"]["predicted"] == 0).to(torch.int8)
    assert (accuracy[:, 0] == 0).all() and (accuracy[:, -1] == 1).all()

    unsure = evaluate(Brightness(1.0).double(), images, saliency, 0, ["sic", "aic"], **SMALL_MSSSIM)
    assert unsure.skipped["sic/entropy"] == {
        "low_prediction": 3,
        "canvas_not_less_informative": 0,
        "canvas_not_less_predictive": 0,
        "images": 3,
    }
    assert torch.isnan(unsure.per_image["sic/entropy"]).all() and math.isnan(unsure.aggregate["sic/entropy"])
    assert unsure.skipped["aic/entropy"]["low_prediction"] == 0  # the input is still classified as class 0

    blind = evaluate(Constant().double(), images, saliency, 0, ["sic", "aic"], **SMALL_MSSSIM)
    for key in ("sic/entropy", "aic/msssim"):
        assert blind.skipped[key]["canvas_not_less_predictive"] == 3
        assert blind.skip_reasons[key] == [["canvas_not_less_predictive"]] * 3

    # a black image: its blurred canvas is itself, so nothing is gained on either axis
    dark = torch.cat([images[:1], torch.zeros(1, 3, 32, 32, dtype=torch.float64)])
    mixed = evaluate(Brightness(-CONFIDENT).double(), dark, saliency[:2], 1, ["sic"], **SMALL_MSSSIM)
    for key in ("sic/entropy", "sic/msssim"):
        assert mixed.skip_reasons[key][0] == [] or "canvas_not_less_predictive" in mixed.skip_reasons[key][0]
        assert "canvas_not_less_informative" in mixed.skip_reasons[key][1]
        assert mixed.skipped[key]["canvas_not_less_informative"] >= 1
        assert math.isnan(float(mixed.per_image[key][1]))

    # a flat grey image: the zero-padded blur darkens its borders, which costs more bytes than flat grey
    flat = torch.full((1, 3, 32, 32), 0.5, dtype=torch.float64)
    grey = evaluate(Brightness(CONFIDENT).double(), flat, saliency[:1], 0, ["sic"], information=["entropy"])
    assert grey.skipped["sic/entropy"]["canvas_not_less_informative"] == 1


# ---- the pair profile -----------------------------------------------------------------------------


def test_pair_mask_is_seeded_sized_and_holds_the_corners():
    mask = pair_always_revealed(30, 40, fraction=0.01, seed=0)
    assert torch.equal(mask, pair_always_revealed(30, 40, fraction=0.01, seed=0))
    assert not torch.equal(mask, pair_always_revealed(30, 40, fraction=0.01, seed=1))
    assert bool(mask[0, 0] and mask[0, -1] and mask[-1, 0] and mask[-1, -1])
    assert 12 <= int(mask.sum()) <= 16  # 12 random pixels (1 % of 1200) + up to 4 corners


def test_pair_interpolation_is_exact_on_a_linear_image_and_keeps_revealed_pixels():
    """An 8-bit ramp with whole-number gradients is interpolated exactly; every level lies on the
    8-bit grid and keeps the revealed pixels' 8-bit values."""
    rows = torch.arange(20, dtype=torch.float64).view(1, 20, 1)
    cols = torch.arange(24, dtype=torch.float64).view(1, 1, 24)
    ramp = (10 + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).view(3, 1, 1) * rows + 2 * cols) / 255
    always = pair_always_revealed(20, 24, seed=0)
    assert torch.allclose(interpolate_from_revealed(ramp, always), ramp, atol=1e-12)

    image, saliency = noise_images(1, size=24)[0], random_saliency(1, size=24)[0]
    stack = pair_bokeh(image, saliency, pair_always_revealed(24, 24))
    assert stack.shape == (len(PAIR_THRESHOLDS) + 1, 3, 24, 24)
    assert torch.equal(stack * 255, (stack * 255).round())
    eight_bit = quantised(image)
    for level, t in enumerate((0.0, *PAIR_THRESHOLDS)):
        revealed = pair_always_revealed(24, 24)
        if t:
            revealed = revealed | (saliency >= torch.quantile(saliency.flatten(), 1 - t))
        assert torch.equal(stack[level][:, revealed], eight_bit[:, revealed])


def test_pair_profile_through_evaluate():
    images, saliency = noise_images(2, size=24), random_saliency(2, size=24)
    result = evaluate(
        Brightness(CONFIDENT).double(),
        images,
        saliency,
        0,
        ["sic", "aic"],
        pic_profile="pair",
        information=["entropy"],
    )
    assert result.details["pic_levels"]["probability"].shape == (2, len(PAIR_THRESHOLDS) + 1)
    assert (
        result.skipped["sic/entropy"]["images"] + int(torch.isfinite(result.per_image["sic/entropy"]).sum())
        == 2
    )


def test_the_pair_profile_gives_pairs_compute_pic_metric(monkeypatch):
    """Given PAIR's random mask, SIC and AIC on the entropy axis equal the saliency package's
    compute_pic_metric per image to 1e-9 (its 8-bit interpolated images, its ⌊1 %·H·W⌋ mask, its
    WebP sizes, its curve with ties at x = 0 resolved as its interp1d does). A float64 model, so
    that scoring images in batches or one at a time differs by no more than rounding."""
    numpy = pytest.importorskip("numpy")
    pytest.importorskip("scipy")
    pic = pytest.importorskip("saliency.metrics.pic")
    if not hasattr(numpy, "trapz"):  # the saliency package calls np.trapz, gone in numpy 2
        monkeypatch.setattr(numpy, "trapz", numpy.trapezoid, raising=False)
    from idgi_fast import explain
    from idgi_fast.data.scenes import generate_scenes
    from idgi_fast.models.toy import load_scenenet

    model = load_scenenet(dtype=torch.float64)
    scenes = generate_scenes(6, seed=1, size=64)
    images = quantised(scenes.images.to(torch.float64))  # k/255 in float64, as PAIR's pred_func sees
    with torch.no_grad():
        targets = model(images).argmax(dim=1)  # the predicted classes: AIC's input level is then 1
    saliency = explain(model, images, target=targets, steps=8).idgi.sum(dim=1)
    numpy.random.seed(0)
    mask = pic.generate_random_mask(64, 64, 0.01)
    assert mask.sum() == int(0.01 * 64 * 64)
    thresholds = [0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.10, 0.13, 0.21, 0.34, 0.5, 0.75]
    found = evaluate(
        model,
        images,
        saliency,
        targets,
        ["sic", "aic"],
        pic_profile="pair",
        information=["entropy"],
        webp_method=4,
        pair_random_mask=mask,
        pair_thresholds=thresholds,
        min_pred=0.0,
        show_progress=False,
    )
    compared = 0
    for i in range(6):
        pixels = (images[i].permute(1, 2, 0).numpy() * 255).round().astype(numpy.uint8)

        def probability(batch, i=i):
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(torch.float64) / 255
            with torch.no_grad():
                return torch.softmax(model(x), dim=1)[:, int(targets[i])].tolist()

        def correct(batch, i=i):
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(torch.float64) / 255
            with torch.no_grad():
                return (model(x).argmax(dim=1) == int(targets[i])).to(torch.float64).tolist()

        for key, pred_func in (("sic/entropy", probability), ("aic/entropy", correct)):
            try:
                want = pic.compute_pic_metric(
                    pixels, saliency[i].numpy(), mask, pred_func, thresholds, min_pred_value=0.0
                ).auc
            except pic.ComputePicMetricError:
                assert math.isnan(float(found.per_image[key][i])), (key, i)
                continue
            assert float(found.per_image[key][i]) == pytest.approx(want, abs=1e-9), (key, i)
            compared += 1
    assert compared >= 6


def test_a_pair_random_mask_of_the_wrong_shape_is_named():
    images, saliency = noise_images(1, size=24), random_saliency(1, size=24)
    with pytest.raises(ValueError, match=r"pair_random_mask must be an \(H, W\) = \(24, 24\) bool"):
        evaluate(
            Brightness(CONFIDENT).double(),
            images,
            saliency,
            0,
            ["sic"],
            pic_profile="pair",
            information=["entropy"],
            pair_random_mask=torch.zeros(20, 24, dtype=torch.bool),
            show_progress=False,
        )
