"""The backends, and the one place a user's choice is resolved.

`resolve_backend` runs once, at the API boundary (`explain`, `evaluate`, the Captum drop-in);
every op below receives its answer, "torch" or "triton", and dispatches on it without
checking it again.
"""

from __future__ import annotations

import os

import torch

BACKENDS = ("auto", "torch", "triton", "reference")  # what users pass to explain(), evaluate() and the CLI
OP_BACKENDS = ("torch", "triton")  # what an op receives


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def resolve_backend(backend: str, tensor: torch.Tensor) -> str:
    """A user's backend choice for data on `tensor`'s device: "reference", "torch" or "triton".

    auto: Triton kernels for CUDA tensors, the vectorised torch path elsewhere.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if tensor.device.type == "cuda" else "torch"
    if backend == "triton" and tensor.device.type != "cuda" and not interpreting():
        raise ValueError(
            "backend='triton' needs CUDA tensors; on the CPU it runs only under the Triton interpreter "
            "(set TRITON_INTERPRET=1 before importing triton, as the tests do). Use backend='torch' or "
            "'auto'."
        )
    return backend
