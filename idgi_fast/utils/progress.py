"""Progress bars on stderr, silent when stderr is not a terminal (CI, pipes, log files)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress(
    iterable=None, *, desc: str, total: int | None = None, unit: str = "it", enabled: bool | None = None
):
    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(iterable, desc=desc, total=total, unit=unit, file=sys.stderr, disable=not show, leave=False)
