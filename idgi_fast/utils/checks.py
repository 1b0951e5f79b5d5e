"""Checks of scalar arguments, shared by every layer; each failure names the argument and what it
takes. Checks of tensors and models are validation's."""

from __future__ import annotations

import math
import numbers
from typing import Any


def check_positive_float(name: str, value: Any) -> float:
    """A finite number > 0 (NaN and Inf refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) < math.inf:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_flag(name: str, value: Any) -> bool:
    """A real bool: a string such as "no" is truthy and would silently mean True."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_positive_int(name: str, value: Any, meaning: str = "") -> int:
    """An integer ≥ 1 (a bool is refused: True would silently mean 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int ≥ 1{f' ({meaning})' if meaning else ''}, got {value!r}")
    return int(value)
