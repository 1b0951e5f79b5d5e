"""The one tolerance table of the op tests (docs/semantics.md §7 for what the package promises):

- `tolerance(dtype)`: an implementation against its op's torch one, element by element, in the
  same dtype;
- `summed(dtype, length, scale)`: where the checked value is a sum of `length` terms (a blur's
  taps, a softmax's classes, MS-SSIM's window, a curve's points) that two implementations add in
  different orders: the rounding bound grows with the length, length·ε(dtype)·scale, scale the
  magnitude of the summed terms (1/h for a difference quotient over a step h);
- `EXACT`: results the code makes equal by construction (same element selected, same
  arithmetic in the same order, integer outputs);
- `SOLVED`: ROAD's imputation, linear systems solved to a relative residual of 1e-12;
- `CANCELLING`: a product with a difference of nearly equal values (Guided IG's move x′ − x
  times the gradient), whose relative error is the difference's, not the dtype's.
"""

from __future__ import annotations

import torch

DTYPES = (torch.float32, torch.float64)
TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}
EXACT = dict(rtol=0, atol=0)
SOLVED = dict(rtol=0, atol=1e-8)
CANCELLING = dict(rtol=1e-10, atol=1e-15)


def tolerance(dtype: torch.dtype) -> dict:
    return TOLERANCE[dtype]


def summed(dtype: torch.dtype, length: int, scale: float = 1.0) -> dict:
    return dict(rtol=0, atol=length * torch.finfo(dtype).eps * scale)
