"""Rescoring op: from the logits of many metric images, each image's target probability and
predicted class in one pass (SEMANTICS.md §6: softmax probabilities of the target class).

The probability is softmax in float64 of the logits, as the reference's Scorer computes it;
the class is the argmax of the logits as the model returned them (lowest index among ties).
"""
from __future__ import annotations

import torch

from .dispatch import check_backend

LARGEST_TRITON_ROW = 1 << 16  # classes per row the single-block kernel takes; wider rows use torch


def target_probabilities_torch(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    probability = torch.softmax(logits.to(torch.float64), dim=1).gather(1, targets.view(-1, 1)).squeeze(1)
    return probability, logits.argmax(dim=1)


def target_probabilities_triton(logits: torch.Tensor, targets: torch.Tensor):
    import triton

    from ..kernels.rescore import target_probability_kernel

    rows, classes = logits.shape
    probability = torch.empty(rows, dtype=torch.float64, device=logits.device)
    predicted = torch.empty(rows, dtype=torch.int64, device=logits.device)
    if rows:
        target_probability_kernel[(rows,)](logits.contiguous(), targets.contiguous(), probability, predicted, classes,
                                           BLOCK=triton.next_power_of_2(classes))
    return probability, predicted


def target_probabilities(logits: torch.Tensor, targets: torch.Tensor, backend: str = "torch"):
    """(N,) float64 softmax probability of targets[r] and (N,) int64 argmax class of each row of
    logits (N, K)."""
    if check_backend(backend, logits) == "triton" and logits.shape[1] <= LARGEST_TRITON_ROW:
        return target_probabilities_triton(logits, targets)
    return target_probabilities_torch(logits, targets)
