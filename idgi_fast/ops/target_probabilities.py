"""Target probabilities op: each metric image's softmax probability of its target (float64, as the
reference's Scorer computes it) and its argmax class (lowest index among ties), which AIC compares
with the target; from the model's logits without a host round trip per image."""

from __future__ import annotations

import torch

from .backends import implementation
from .launches import declare, pointer

BLOCK = 1024  # classes the kernel reads at a time; a row of any width loops over them
LOGIT_TYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)  # the models' output types


def target_probabilities_torch(
    logits: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    probability = torch.softmax(logits.to(torch.float64), dim=1).gather(1, targets.view(-1, 1)).squeeze(1)
    return probability, logits.argmax(dim=1)


def target_probabilities_triton(logits: torch.Tensor, targets: torch.Tensor):
    from ..kernels.target_probabilities import target_probability_kernel

    rows, classes = logits.shape
    probability = torch.empty(rows, dtype=torch.float64, device=logits.device)
    predicted = torch.empty(rows, dtype=torch.int64, device=logits.device)
    if rows:
        target_probability_kernel[(rows,)](
            logits.contiguous(), targets.contiguous(), probability, predicted, classes, BLOCK=BLOCK
        )
    return probability, predicted


def triton_launches() -> list:
    """Every launch of this op's kernel (ops/launches.py): one per logit type."""
    from ..kernels.target_probabilities import target_probability_kernel

    launches = []
    for dtype in LOGIT_TYPES:
        launches += declare(
            target_probability_kernel,
            logits_ptr=pointer(dtype),
            targets_ptr="*i64",
            probability_ptr="*fp64",
            class_ptr="*i64",
            n_classes="i32",
            BLOCK=BLOCK,
        )
    return launches


TARGET_PROBABILITIES = {"torch": target_probabilities_torch, "triton": target_probabilities_triton}


def target_probabilities(logits: torch.Tensor, targets: torch.Tensor, backend: str = "torch"):
    """(N,) float64 softmax probability of targets[r] and (N,) int64 argmax class of each row of
    logits (N, K)."""
    return implementation(TARGET_PROBABILITIES, backend)(logits, targets)
