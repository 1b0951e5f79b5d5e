"""Which implementation of an op runs: the vectorised torch one or the Triton kernel."""
from __future__ import annotations

import os

import torch

OP_BACKENDS = ("torch", "triton")


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
