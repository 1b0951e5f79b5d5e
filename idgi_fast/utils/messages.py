"""Warnings said once per process: a fallback the user should know about, not one per call."""

from __future__ import annotations

import warnings

_warned: set[str] = set()


def warn_once(message: str, stacklevel: int = 2) -> None:
    """warnings.warn(message) the first time this message comes, and never again in this process;
    stacklevel as warnings.warn's, counted from the caller of warn_once."""
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, stacklevel=stacklevel + 1)
