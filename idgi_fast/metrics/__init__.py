"""Evaluation metrics (SEMANTICS.md §6)."""
from .localization import energy_in_mask, pointing_game

__all__ = ["energy_in_mask", "pointing_game"]
