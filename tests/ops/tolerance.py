"""The one dtype → tolerance table of the op tests: a Triton kernel against its op's torch
implementation, both in the same dtype (docs/semantics.md §7 for what the package promises)."""

from __future__ import annotations

import torch

DTYPES = (torch.float32, torch.float64)
TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def tolerance(dtype: torch.dtype) -> dict:
    return TOLERANCE[dtype]
