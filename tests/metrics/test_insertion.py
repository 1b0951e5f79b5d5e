"""Insertion and Deletion against analytic answers (docs/semantics.md §6)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from idgi_fast.geometry import gaussian_blur
from idgi_fast.metrics import evaluate
from idgi_fast.reference.metrics.common import level_counts, pixel_ranks, trapezoid
from idgi_fast.reference.metrics.insertion import deletion_images, insertion_canvas, insertion_images

SIZE = 20
OFFSET = 0.25  # keeps both logits finite when no important pixel is present


class ImportantFraction(nn.Module):
    """Two classes; p(class 0) = (a + f)/(1 + 2a) where f is the fraction of the important pixels
    whose first channel shows the input's value 1 (the canvas is black)."""

    def __init__(self, important: torch.Tensor, a: float = OFFSET):
        super().__init__()
        self.register_buffer("important", important.to(torch.float64))
        self.a = a

    def forward(self, x):
        f = (x[:, 0] * self.important).flatten(1).sum(1) / self.important.sum()
        return torch.stack([torch.log(self.a + f), torch.log(self.a + 1 - f)], dim=1)


@pytest.fixture
def fraction_setup():
    generator = torch.Generator().manual_seed(3)
    important = torch.zeros(SIZE * SIZE, dtype=torch.bool)
    important[torch.randperm(SIZE * SIZE, generator=generator)[:100]] = True  # a quarter, scattered
    important = important.view(SIZE, SIZE)
    images = torch.ones(2, 3, SIZE, SIZE, dtype=torch.float64)
    return ImportantFraction(important).double(), images, important


def test_true_importance_gives_the_analytic_insertion_and_deletion_auc(fraction_setup):
    model, images, important = fraction_setup
    saliency = important.to(torch.float64).expand(2, SIZE, SIZE)
    result = evaluate(model, images, saliency, target=0, metrics=["insertion", "deletion"])
    # K = 20 levels reveal 20 pixels each: the 100 important ones are all in after 5 levels,
    # so f rises linearly to 1 over x ∈ [0, 1/4] and stays there: ∫f = 1/8 + 3/4.
    a = OFFSET
    inserted_area, deleted_area = 0.875, 0.125
    assert torch.allclose(
        result.per_image["insertion/probability"],
        torch.full((2,), (a + inserted_area) / (1 + 2 * a), dtype=torch.float64),
        atol=1e-12,
    )
    assert torch.allclose(
        result.per_image["insertion/probability_ratio"],
        torch.full((2,), (a + inserted_area) / (a + 1), dtype=torch.float64),
        atol=1e-12,
    )
    assert torch.allclose(
        result.per_image["deletion/probability"],
        torch.full((2,), (a + deleted_area) / (1 + 2 * a), dtype=torch.float64),
        atol=1e-12,
    )
    assert result.aggregate["insertion/probability"] == pytest.approx(
        (a + inserted_area) / (1 + 2 * a), abs=1e-12
    )
    f = torch.tensor([min(k / 5, 1.0) for k in range(21)], dtype=torch.float64)
    assert torch.allclose(result.curves["insertion"][0], (a + f) / (1 + 2 * a), atol=1e-12)


def test_random_saliency_scores_lower_and_deletion_mirrors_insertion(fraction_setup):
    model, images, important = fraction_setup
    true_map = important.to(torch.float64).expand(2, SIZE, SIZE)
    random_map = torch.rand(2, SIZE, SIZE, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    true = evaluate(model, images, true_map, target=0, metrics=["insertion", "deletion"])
    rand = evaluate(model, images, random_map, target=0, metrics=["insertion", "deletion"])
    assert (rand.per_image["insertion/probability"] < true.per_image["insertion/probability"] - 0.1).all()
    assert (rand.per_image["deletion/probability"] > true.per_image["deletion/probability"] + 0.1).all()
    # the score is additive in the pixels present, so every insertion level and its deletion twin sum to 1
    for result in (true, rand):
        assert torch.allclose(
            result.curves["insertion"] + result.curves["deletion"],
            torch.ones(2, 21, dtype=torch.float64),
            atol=1e-12,
        )


def test_level_images_start_at_the_canvas_and_end_at_the_input():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(3, 9, 14, generator=generator)
    saliency = torch.randn(9, 14, generator=generator, dtype=torch.float64)
    for canvas_name in ("black", "blur"):
        canvas = insertion_canvas(image, canvas_name, sigma=3.0)
        inserted = insertion_images(image, saliency, canvas, levels=20)
        deleted = deletion_images(image, saliency, canvas, levels=20)
        assert inserted.shape == (21, 3, 9, 14)
        assert torch.equal(inserted[0], canvas) and torch.equal(inserted[-1], image)
        assert torch.equal(deleted[0], image) and torch.equal(deleted[-1], canvas)
        assert torch.equal(deleted, insertion_images(canvas, saliency, image, levels=20))
    assert torch.equal(insertion_canvas(image, "black", 3.0), torch.zeros_like(image))
    assert torch.equal(insertion_canvas(image, "blur", 3.0), gaussian_blur(image[None], 3.0, "zeros")[0])


def test_each_level_reveals_the_top_pixels_all_channels():
    saliency = torch.tensor([[0.5, 3.0, -1.0], [2.0, 0.0, 1.0]], dtype=torch.float64)
    image = torch.arange(1, 19, dtype=torch.float32).view(3, 2, 3)
    inserted = insertion_images(image, saliency, torch.zeros_like(image), levels=3)  # counts 0, 2, 4, 6
    assert torch.equal(
        inserted[1] != 0, torch.tensor([[False, True, False], [True, False, False]]).expand(3, 2, 3)
    )
    assert torch.equal(
        inserted[2] != 0, torch.tensor([[True, True, False], [True, False, True]]).expand(3, 2, 3)
    )


def test_pixel_order_is_descending_and_ties_go_to_the_lower_index():
    saliency = torch.tensor([[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    assert pixel_ranks(saliency).tolist() == [[1, 3, 2], [4, 0, 5]]
    assert level_counts(10, 4) == [0, 2, 5, 7, 10]


def test_trapezoid_rule():
    values = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    assert trapezoid(values, 0.5).tolist() == [0.75, 1.0]
