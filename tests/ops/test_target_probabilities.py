"""The target probabilities op: its Triton kernel against softmax in float64."""

from __future__ import annotations

import pytest
import torch
from tolerance import tolerance

from idgi_fast.ops.target_probabilities import target_probabilities_torch, target_probabilities_triton


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
    torch.testing.assert_close(got_p, want_p, **tolerance(torch.float64))
    assert torch.equal(got_c, want_c)
    assert got_c[1] == 0 and (classes <= 2 or got_c[2] == 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_rows_wider_than_one_block_match_softmax(dtype):
    """2500 classes: the kernel's two passes over three blocks of classes. The largest logit in
    the last block; a tie between the first and second block goes to the first (the lower index)."""
    generator = torch.Generator().manual_seed(5)
    logits = (torch.randn(4, 2500, generator=generator) * 3).to(dtype)
    logits[0, 2400] = 50.0  # the largest in the third block
    logits[1, 700] = logits[1, 1300] = 40.0  # a tie across blocks: class 700
    logits[2, 1024] = 45.0  # the first class of the second block
    targets = torch.tensor([2400, 1300, 0, 2499])
    want_p, want_c = target_probabilities_torch(logits, targets)
    got_p, got_c = target_probabilities_triton(logits, targets)
    torch.testing.assert_close(got_p, want_p, **tolerance(torch.float64))
    assert torch.equal(got_c, want_c)
    assert got_c[:3].tolist() == [2400, 700, 1024]
