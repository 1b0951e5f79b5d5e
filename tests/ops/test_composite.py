"""The composite op: bit-identical to the reference's reveal stack, kernel in the interpreter."""

from __future__ import annotations

import pytest
import torch
from conftest import tied_saliency

from idgi_fast.ops.composite import composite, composite_torch, composite_triton
from idgi_fast.reference.metrics.common import level_counts, pixel_ranks, reveal_stack


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
        want = torch.stack(
            [reveal_stack(shown[b], hidden[b], pixel_ranks(saliency[b]), counts) for b in range(shape[0])]
        )
        assert torch.equal(composite_torch(shown, hidden, ranks, counts_tensor), want)
        got = composite_triton(shown, hidden, ranks, counts_tensor, block=16)
        assert torch.equal(got, want)
        assert torch.equal(got[:, 0], hidden) and torch.equal(got[:, -1], shown)


def test_composite_rejects_mismatched_shapes():
    images = torch.rand(2, 3, 5, 5)
    with pytest.raises(ValueError, match="ranks"):
        composite(images, images, torch.zeros(2, 4, 5, dtype=torch.long), torch.tensor([0, 25]))
