"""Triton kernel of the target probabilities op (ops/target_probabilities.py)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def target_probability_kernel(
    logits_ptr, targets_ptr, probability_ptr, class_ptr, n_classes, BLOCK: tl.constexpr
):
    """Program r: from row r of the logits (N, K),

        probability[r] = softmax(float64(logits[r]))[targets[r]]
        class[r]       = argmax logits[r] (the lowest index among ties)

    The whole row is one block (BLOCK ≥ K), read once; the softmax is in float64.
    """
    row = tl.program_id(0).to(tl.int64)
    offsets = tl.arange(0, BLOCK)
    inside = offsets < n_classes
    logits = tl.load(logits_ptr + row * n_classes + offsets, mask=inside, other=-float("inf"))
    wide = logits.to(tl.float64)
    largest = tl.max(wide, axis=0)
    total = tl.sum(tl.where(inside, tl.exp(wide - largest), 0.0), axis=0)
    target = tl.load(targets_ptr + row)
    chosen = tl.sum(tl.where(offsets == target, wide, 0.0), axis=0)
    tl.store(probability_ptr + row, tl.exp(chosen - largest) / total)
    tl.store(class_ptr + row, tl.argmax(logits, axis=0).to(tl.int64))
