"""XRAI against PAIR's implementation (the `saliency` package, test-only) given the same base
attribution: the same candidate regions, the same region gains and the same ranking."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from conftest import TinyCNN

import idgi_fast
from idgi_fast.xrai import segment_masks, xrai

pair = pytest.importorskip("saliency.core")
pair_xrai = pytest.importorskip("saliency.core.xrai")


def smooth_image(seed: int, height: int, width: int) -> torch.Tensor:
    """Blobs of colour, so that Felzenszwalb finds regions of several sizes."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 6, 7, generator=generator, dtype=torch.float64)
    image = torch.nn.functional.interpolate(
        coarse, size=(height, width), mode="bilinear", align_corners=False
    )[0]
    return (image + 0.05 * torch.rand(3, height, width, generator=generator, dtype=torch.float64)).clamp(0, 1)


@pytest.mark.parametrize("seed,height,width", [(0, 64, 80), (1, 97, 71)])
def test_candidate_regions_equal_pairs(seed, height, width):
    image = smooth_image(seed, height, width)
    theirs = pair_xrai._get_segments_felzenszwalb(image.permute(1, 2, 0).numpy())
    mine = segment_masks(image)
    assert mine.shape[0] == len(theirs)
    assert all(np.array_equal(m.numpy(), t) for m, t in zip(mine, theirs))


@pytest.mark.parametrize("area_threshold", [1.0, 0.3])
@pytest.mark.parametrize("seed,height,width", [(2, 64, 80), (3, 97, 71)])
def test_xrai_equals_pairs_given_the_same_attribution(seed, height, width, area_threshold):
    image = smooth_image(seed, height, width)
    attribution = torch.randn(
        3, height, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    parameters = pair.XRAIParameters(area_threshold=area_threshold, return_xrai_segments=True)
    theirs = pair.XRAI().GetMaskWithDetails(
        image.permute(1, 2, 0).numpy(),
        call_model_function=None,
        base_attribution=attribution.permute(1, 2, 0).numpy(),
        extra_parameters=parameters,
    )
    mine = xrai(image[None], attribution[None], area_threshold=area_threshold)
    np.testing.assert_allclose(mine.maps[0].numpy(), theirs.attribution_mask, rtol=1e-12, atol=1e-14)
    assert np.array_equal(mine.ranks[0].numpy(), theirs.segments)


def test_default_attributions_are_the_black_and_white_ig():
    model = TinyCNN().double().eval()
    images = torch.stack([smooth_image(4, 40, 40), smooth_image(5, 40, 40)])
    result = xrai(images, model=model, target=1, steps=4, batch_size=16)
    assert result.maps.shape == (2, 40, 40) and result.ranks.min() >= 1
    ig = idgi_fast.explain(model, images, target=1, steps=4, idgi=False, baselines=[0.0, 1.0], batch_size=16)
    given = xrai(images, ig.base)
    torch.testing.assert_close(result.maps, given.maps, rtol=0, atol=0)  # one computation, by construction
    assert torch.equal(result.ranks, given.ranks)


def test_without_scikit_image_xrai_names_the_extra(monkeypatch):
    for name in ("skimage", "skimage.segmentation", "skimage.transform"):
        monkeypatch.setitem(sys.modules, name, None)  # import of a None entry raises ImportError
    image = smooth_image(6, 32, 32)[None]
    with pytest.raises(ImportError, match=r"pip install 'idgi-fast\[xrai\]'"):
        xrai(image, image)
