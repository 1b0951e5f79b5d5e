"""Which implementation of an op runs: the vectorised torch one or the Triton kernel."""
from __future__ import annotations

import os

import torch

OP_BACKENDS = ("torch", "triton")
BACKENDS = ("auto", "torch", "triton", "reference")  # what users pass to explain() and evaluate()


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def check_backend(backend: str, tensor: torch.Tensor) -> str:
    """`backend` itself, once it is known to be able to run on `tensor`'s device."""
    if backend not in OP_BACKENDS:
        raise ValueError(f"op backend must be one of {OP_BACKENDS}, got {backend!r}")
    if backend == "triton" and tensor.device.type != "cuda" and not interpreting():
        raise ValueError(
            "backend='triton' needs CUDA tensors; on the CPU it runs only under the Triton interpreter "
            "(set TRITON_INTERPRET=1 before importing triton, as the tests do). Use backend='torch' or 'auto'."
        )
    return backend


def resolve_backend(backend: str, tensor: torch.Tensor) -> str:
    """A user's backend choice for data on `tensor`'s device: "reference", "torch" or "triton".

    auto: Triton kernels for CUDA tensors, the vectorised torch path elsewhere.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if tensor.device.type == "cuda" else "torch"
    if backend == "triton":
        check_backend("triton", tensor)
    return backend
