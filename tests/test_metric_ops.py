"""The fast metric ops (composite, rescoring, batched ranking) and the batched insertion /
deletion path against the reference metrics, on odd image sizes and with ties in the
saliency. Triton kernels run in the interpreter."""
from __future__ import annotations

import pytest
import torch

from conftest import TinyCNN
from idgi_fast import evaluate
from idgi_fast.metrics.common import level_counts, pixel_ranks, reveal_stack
from idgi_fast.metrics.insertion import insertion_deletion, insertion_deletion_batched
from idgi_fast.ops.composite import composite, composite_torch, composite_triton
from idgi_fast.ops.rescore import target_probabilities_torch, target_probabilities_triton


def tied_saliency(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Coarse values (many ties) with one constant map."""
    generator = torch.Generator().manual_seed(seed)
    saliency = torch.randint(-3, 4, (batch, height, width), generator=generator).to(torch.float64)
    saliency[0] = 1.0
    return saliency


def test_batched_ranks_equal_per_map_ranks():
    saliency = tied_saliency(4, 7, 9)
    ranks = pixel_ranks(saliency)
    for b in range(4):
        assert torch.equal(ranks[b], pixel_ranks(saliency[b]))
    assert torch.equal(ranks[0].flatten(), torch.arange(63))  # all tied: flat order


@pytest.mark.parametrize("shape,levels", [((3, 2, 7, 9), 5), ((2, 3, 17, 23), 20), ((1, 1, 5, 4), 2)])
def test_composite_is_bit_identical_to_the_reference_images(shape, levels):
    generator = torch.Generator().manual_seed(levels)
    images = torch.rand(shape, generator=generator)
    canvases = torch.rand(shape, generator=generator)
    saliency = tied_saliency(shape[0], *shape[-2:], seed=levels)
    ranks = pixel_ranks(saliency)
    counts = level_counts(shape[-2] * shape[-1], levels)
    counts_tensor = torch.tensor(counts)
    for shown, hidden in ((images, canvases), (canvases, images)):
        want = torch.stack([reveal_stack(shown[b], hidden[b], pixel_ranks(saliency[b]), counts)
                            for b in range(shape[0])])
        assert torch.equal(composite_torch(shown, hidden, ranks, counts_tensor), want)
        got = composite_triton(shown, hidden, ranks, counts_tensor, block=16)
        assert torch.equal(got, want)
        assert torch.equal(got[:, 0], hidden) and torch.equal(got[:, -1], shown)


def test_composite_rejects_mismatched_shapes():
    images = torch.rand(2, 3, 5, 5)
    with pytest.raises(ValueError, match="ranks"):
        composite(images, images, torch.zeros(2, 4, 5, dtype=torch.long), torch.tensor([0, 25]))


@pytest.mark.parametrize("classes", [1, 5, 13, 1000])
def test_target_probabilities_kernel_matches_softmax(classes):
    generator = torch.Generator().manual_seed(classes)
    logits = torch.randn(9, classes, generator=generator) * 4
    logits[1] = 2.5  # every class tied: argmax is class 0
    if classes > 2:
        logits[2, 1] = logits[2, 2] = logits[2].max() + 1  # a tie for the top: the lower index wins
    targets = torch.randint(0, classes, (9,), generator=generator)
    want_p, want_c = target_probabilities_torch(logits, targets)
    got_p, got_c = target_probabilities_triton(logits, targets)
    torch.testing.assert_close(got_p, want_p, rtol=1e-12, atol=1e-15)
    assert torch.equal(got_c, want_c)
    assert got_c[1] == 0 and (classes <= 2 or got_c[2] == 1)


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("canvas", ["black", "blur"])
def test_batched_insertion_deletion_matches_the_reference(backend, canvas):
    model = TinyCNN(classes=4, seed=2).eval()
    generator = torch.Generator().manual_seed(5)
    images = torch.rand(3, 3, 13, 11, generator=generator)
    saliency = tied_saliency(3, 13, 11, seed=5)
    targets = torch.tensor([0, 3, 1])
    want = insertion_deletion(model, images, saliency, targets, canvas=canvas, sigma=2.0, levels=6, batch_size=5)
    got = insertion_deletion_batched(model, images, saliency, targets, canvas=canvas, sigma=2.0, levels=6,
                                     batch_size=5, backend=backend)
    torch.testing.assert_close(got.original, want.original, rtol=0, atol=1e-6)
    for mode in ("insertion", "deletion"):
        torch.testing.assert_close(got.curves[mode], want.curves[mode], rtol=0, atol=1e-6)
        for name, values in want.scores[mode].items():
            torch.testing.assert_close(got.scores[mode][name], values, rtol=0, atol=1e-6)
    # the curves move: a test on constant curves could not fail
    assert float((want.curves["insertion"][:, 0] - want.curves["insertion"][:, -1]).abs().max()) > 1e-3


def test_evaluate_backends_agree_and_bad_backend_is_named():
    model = TinyCNN(classes=4, seed=2).eval()
    images = torch.rand(4, 3, 13, 11, generator=torch.Generator().manual_seed(7))
    saliency = tied_saliency(4, 13, 11, seed=7)
    options = dict(metrics=("insertion", "deletion"), insertion_levels=5, batch_size=7, show_progress=False)
    want = evaluate(model, images, saliency, backend="reference", **options)
    for backend in ("auto", "torch", "triton"):
        got = evaluate(model, images, saliency, backend=backend, **options)
        assert got.details["backend"] in ("torch", "triton")
        for key, values in want.per_image.items():
            torch.testing.assert_close(got.per_image[key], values, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="backend must be one of"):
        evaluate(model, images, saliency, backend="cuda", **options)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_batched_sic_aic_matches_the_reference(backend):
    """Every per-level value, skip reason, curve and AUC of the batched SIC/AIC path equals the
    reference's: compressed sizes exactly (the bokeh images are bit-identical), the rest to 1e-6."""
    from idgi_fast.metrics.pic import pic_curves

    model = TinyCNN(classes=4, seed=2).eval()  # keeps three images, skips two
    generator = torch.Generator().manual_seed(11)
    images = torch.rand(5, 3, 23, 19, generator=generator)
    saliency = tied_saliency(5, 23, 19, seed=11)
    targets = model(images).argmax(dim=1)
    options = dict(sigma=3.0, levels=7, entropy_format="webp", webp_method=0, msssim_win_size=3, msssim_scales=2,
                   min_pred=0.0, batch_size=9)
    want = pic_curves(model, images, saliency, targets, backend="reference", **options)
    got = pic_curves(model, images, saliency, targets, backend=backend, encode_workers=2, **options)
    assert torch.equal(got.levels["entropy"], want.levels["entropy"])
    assert torch.equal(got.original["entropy"], want.original["entropy"])
    assert torch.equal(got.levels["predicted"], want.levels["predicted"])
    for name in ("probability", "msssim"):
        torch.testing.assert_close(got.levels[name], want.levels[name], rtol=0, atol=1e-6)
        torch.testing.assert_close(got.original[name], want.original[name], rtol=0, atol=1e-6)
    assert got.skip_reasons == want.skip_reasons
    kept = sum(not reasons for reasons in want.skip_reasons["sic/entropy"])
    assert kept >= 2, "the case must keep images, or the curves would be all NaN on both sides"
    for key in want.auc:
        torch.testing.assert_close(got.auc[key], want.auc[key], rtol=0, atol=1e-6, equal_nan=True)
        torch.testing.assert_close(torch.tensor(got.aggregate_auc[key]), torch.tensor(want.aggregate_auc[key]),
                                   rtol=0, atol=1e-6, equal_nan=True)
    assert want.aggregate_auc["sic/entropy"] == want.aggregate_auc["sic/entropy"]  # not NaN: curves were compared


@pytest.mark.parametrize("shape,win_size,scales", [((2, 3, 176, 165), 11, 5), ((3, 1, 23, 19), 3, 2),
                                                   ((2, 3, 30, 41), 7, 2)])
def test_ms_ssim_of_many_levels_equals_pytorch_msssim(shape, win_size, scales):
    """Level images (n, L, …) against their n references; odd sides cover the blocks' padding."""
    from idgi_fast.metrics.information import ms_ssim, ms_ssim_levels

    generator = torch.Generator().manual_seed(scales)
    references = torch.rand(shape, generator=generator)
    levels = (references[:, None] + 0.3 * torch.rand((shape[0], 4, *shape[1:]), generator=generator)).clamp(0, 1)
    levels[:, 0] = references  # a level equal to its reference scores 1
    want = torch.stack([ms_ssim(levels[i], references[i:i + 1].expand_as(levels[i]), win_size, scales)
                        for i in range(shape[0])])
    torch.testing.assert_close(ms_ssim_levels(levels, references, win_size, scales), want, rtol=0, atol=1e-12)
    assert float(want.min()) < 0.99  # the pairs differ: a comparison of ones could not fail


@pytest.mark.parametrize("normalise_x", [True, False])
def test_curve_op_equals_the_per_image_curves(normalise_x):
    """Ties in x, non-monotone information and scores, values outside [0, 1]: the torch op is the
    reference's per-image normalise + pic_curve + AUC bit for bit, the kernel to 1e-12."""
    from idgi_fast.metrics.pic import CURVE_POINTS, curve_auc, normalise, pic_curve
    from idgi_fast.ops.rescore import information_curves_torch, information_curves_triton

    generator = torch.Generator().manual_seed(4)
    x_levels = torch.rand(6, 9, generator=generator, dtype=torch.float64) * 1.2 - 0.1
    x_levels[0] = torch.linspace(0, 1, 9, dtype=torch.float64)
    x_levels[1, 3:6] = 0.5  # ties in x: the later point wins
    y_levels = torch.rand(6, 9, generator=generator, dtype=torch.float64) * 0.7
    x_input, y_input = torch.full((6,), 1.1, dtype=torch.float64), torch.full((6,), 0.9, dtype=torch.float64)
    x = normalise(x_levels, x_levels[:, 0], x_input) if normalise_x else x_levels.clamp(0, 1)
    y = normalise(y_levels, y_levels[:, 0], y_input)
    want = torch.stack([pic_curve(x[i], y[i]) for i in range(6)])
    curve, auc = information_curves_torch(x_levels, x_input, y_levels, y_input, normalise_x, CURVE_POINTS)
    assert torch.equal(curve, want) and torch.equal(auc, curve_auc(want))
    curve, auc = information_curves_triton(x_levels, x_input, y_levels, y_input, normalise_x, CURVE_POINTS, block=256)
    torch.testing.assert_close(curve, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(auc, curve_auc(want), rtol=0, atol=1e-12)
