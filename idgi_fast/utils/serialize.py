"""Results as strict JSON: tensors become lists, NaN becomes null, ±inf the strings "inf"/"-inf"."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_text


def plain_data(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return plain_data(value.tolist())
    if isinstance(value, dict):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write `data` as indented strict JSON."""
    return atomic_write_text(path, json.dumps(plain_data(data), indent=1, allow_nan=False) + "\n")
