"""Target probabilities op: each metric image's softmax probability of its target (float64, as the
reference's Scorer computes it) and its argmax class (lowest index among ties), which AIC compares
with the target; from the model's logits without a host round trip per image."""

from __future__ import annotations

import torch

from .backends import implementation

LARGEST_TRITON_ROW = 1 << 16  # classes per row the single-block kernel takes; wider rows use torch


def target_probabilities_torch(
    logits: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    probability = torch.softmax(logits.to(torch.float64), dim=1).gather(1, targets.view(-1, 1)).squeeze(1)
    return probability, logits.argmax(dim=1)


def target_probabilities_triton(logits: torch.Tensor, targets: torch.Tensor):
    import triton

    from ..kernels.target_probabilities import target_probability_kernel

    rows, classes = logits.shape
    probability = torch.empty(rows, dtype=torch.float64, device=logits.device)
    predicted = torch.empty(rows, dtype=torch.int64, device=logits.device)
    if rows:
        target_probability_kernel[(rows,)](
            logits.contiguous(),
            targets.contiguous(),
            probability,
            predicted,
            classes,
            BLOCK=triton.next_power_of_2(classes),
        )
    return probability, predicted


TARGET_PROBABILITIES = {"torch": target_probabilities_torch, "triton": target_probabilities_triton}


def target_probabilities(logits: torch.Tensor, targets: torch.Tensor, backend: str = "torch"):
    """(N,) float64 softmax probability of targets[r] and (N,) int64 argmax class of each row of
    logits (N, K)."""
    fits = logits.shape[1] <= LARGEST_TRITON_ROW
    return implementation(TARGET_PROBABILITIES, backend, applies=fits)(logits, targets)
