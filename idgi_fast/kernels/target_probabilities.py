"""Triton kernel of the target probabilities op (ops/target_probabilities.py)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit(do_not_specialize=["n_classes"])
def target_probability_kernel(
    logits_ptr, targets_ptr, probability_ptr, class_ptr, n_classes, BLOCK: tl.constexpr
):
    """Program r: from row r of the logits (N, K),

        probability[r] = softmax(float64(logits[r]))[targets[r]]
        class[r]       = argmax logits[r] (the lowest index among ties)

    The row is read BLOCK classes at a time, twice: the first pass finds the largest logit and
    its first index, the second sums exp(logit − largest) in float64. Any K takes the same
    registers; a row of at most BLOCK classes is summed as one block.
    """
    row = tl.program_id(0).to(tl.int64)
    start = logits_ptr + row * n_classes
    largest = tl.max(tl.full([BLOCK], -float("inf"), tl.float64), axis=0)
    largest_at = tl.sum(tl.zeros([BLOCK], tl.int64), axis=0)
    for offset in range(0, n_classes, BLOCK):
        offsets = offset + tl.arange(0, BLOCK)
        # compared in float64, exact for every logit type (the interpreter's bf16 argmax is not)
        logits = tl.load(start + offsets, mask=offsets < n_classes, other=-float("inf")).to(tl.float64)
        block_largest = tl.max(logits, axis=0)
        block_at = offset + tl.argmax(logits, axis=0).to(tl.int64)
        # a later block wins only when strictly larger: ties keep the lowest index
        largest_at = tl.where(block_largest > largest, block_at, largest_at)
        largest = tl.maximum(largest, block_largest)
    total = tl.sum(tl.zeros([BLOCK], tl.float64), axis=0)
    for offset in range(0, n_classes, BLOCK):
        offsets = offset + tl.arange(0, BLOCK)
        inside = offsets < n_classes
        logits = tl.load(start + offsets, mask=inside, other=-float("inf")).to(tl.float64)
        total += tl.sum(tl.where(inside, tl.exp(logits - largest), 0.0), axis=0)
    chosen = tl.load(start + tl.load(targets_ptr + row)).to(tl.float64)
    tl.store(probability_ptr + row, tl.exp(chosen - largest) / total)
    tl.store(class_ptr + row, largest_at)
