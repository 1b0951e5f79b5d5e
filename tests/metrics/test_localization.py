"""Energy-in-mask and pointing game (docs/semantics.md §6) on hand-made maps."""

from __future__ import annotations

import pytest
import torch

from idgi_fast.metrics import energy_in_mask, pointing_game


def test_energy_in_mask_counts_positive_values_only():
    saliency = torch.tensor([[[3.0, -5.0], [1.0, 0.0]], [[-1.0, -2.0], [0.0, 0.0]]])
    masks = torch.tensor([[[True, True], [False, False]], [[True, False], [False, False]]])
    torch.testing.assert_close(energy_in_mask(saliency, masks), torch.tensor([0.75, 0.0]))


def test_pointing_game_ties_go_to_the_lowest_flat_index():
    saliency = torch.tensor([[[1.0, 2.0], [2.0, 0.0]], [[1.0, 2.0], [2.0, 0.0]]])
    masks = torch.tensor([[[False, True], [False, False]], [[False, False], [True, False]]])
    assert pointing_game(saliency, masks).tolist() == [True, False]


def test_shape_errors():
    with pytest.raises(ValueError, match=r"saliency must be \(B, H, W\)"):
        energy_in_mask(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"masks must match"):
        pointing_game(torch.zeros(2, 4, 4), torch.zeros(2, 4, 5, dtype=torch.bool))
