"""Backend resolution at the boundary: ops receive a resolved backend and never check it again."""

from __future__ import annotations

import pytest
import torch

from idgi_fast import explain
from idgi_fast.ops.backends import resolve_backend


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        resolve_backend("triton", torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        explain(lambda x: x.flatten(1)[:, :2], torch.zeros(1, 1, 4, 4), target=0, steps=2, backend="triton")
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend("cuda", torch.zeros(1))
