"""The backends, and the one place a user's choice is resolved.

`resolve_backend` runs once, at the API boundary (`explain`, `evaluate`, the Captum drop-in);
every op below receives its answer, "torch", "triton" or "native", and dispatches on it without
checking it again. An op without a native implementation runs its torch one under "native".
"""

from __future__ import annotations

import os

import torch

from ..utils.messages import warn_once
from .native import native_error

BACKENDS = (
    "auto",
    "torch",
    "triton",
    "native",
    "reference",
)  # what users pass to explain(), evaluate() and the CLI
OP_BACKENDS = ("torch", "triton", "native")  # what an op receives


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def resolve_backend(backend: str, tensor: torch.Tensor) -> str:
    """A user's backend choice for data on `tensor`'s device: "reference", "torch", "triton" or
    "native".

    auto: Triton kernels for CUDA tensors; on the CPU the native C++ ops (ops/native.py) where
    they could be built, else the vectorised torch path, with one warning saying why.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        if tensor.device.type == "cuda":
            return "triton"
        error = native_error()
        if error is None:
            return "native"
        warn_once(
            f"idgi_fast: the native CPU ops are not available ({error}); using the torch path. "
            "A C++ compiler and ninja (pip install ninja) let them build.",
            stacklevel=3,
        )
        return "torch"
    if backend == "native":
        if tensor.device.type != "cpu":
            raise ValueError(
                f"backend='native' runs on CPU tensors, these are on {tensor.device}; use 'auto' or 'triton'"
            )
        error = native_error()
        if error is not None:
            raise RuntimeError(
                f"backend='native' needs the C++ ops of csrc/, which could not be loaded or built ({error}). "
                "Install a C++ compiler and ninja (pip install ninja), or use backend='torch'."
            )
    if backend == "triton" and tensor.device.type != "cuda" and not interpreting():
        raise ValueError(
            "backend='triton' needs CUDA tensors; on the CPU it runs only under the Triton interpreter "
            "(set TRITON_INTERPRET=1 before importing triton, as the tests do). Use backend='torch' or "
            "'auto'."
        )
    return backend


def implementation(table: dict, backend: str, applies: bool = True):
    """An op's implementation for `backend` from its table {"torch": …, "triton": …, "native": …};
    the torch one where the table has none for `backend` or the faster one does not take this
    call (`applies` False: a device, shape or option it does not cover)."""
    return table[backend] if applies and backend in table else table["torch"]
