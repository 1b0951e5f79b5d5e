"""NVTX ranges in the "idgi_fast" domain, for Nsight Systems (`nsys profile -t cuda,nvtx`).

Outside a profiler a range costs about a microsecond; without the nvtx package it is free.
"""

from __future__ import annotations

from contextlib import nullcontext

try:
    import nvtx
except ImportError:  # pragma: no cover - nvtx is a declared dependency; this keeps bare GPU hosts working
    nvtx = None

DOMAIN = "idgi_fast"


def annotate(name: str):
    """Context manager marking one phase: path points, forward+backward, accumulate, guided selection."""
    if nvtx is None:
        return nullcontext()
    return nvtx.annotate(name, domain=DOMAIN)
