"""A long study keeps flat memory: RSS sampled before each batch of a 256-scene run (the CLI's
metrics, JPEG stability, IG ± IDGI at 8 steps) does not grow with the scenes. Prints the curve;
bench/RESULTS.md keeps a measured one. Run: `.venv/bin/python -m pytest bench/study/test_memory.py`."""

from __future__ import annotations

import statistics
import sys

import pytest

from bench.study.memory import study_memory
from idgi_fast.utils.tables import markdown_table


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_memory_does_not_grow_with_scenes(capsys):
    found = study_memory(256, ("ig",), (8,), 16)
    rss = [row["RSS MiB"] for row in found["rows"][: found["during"]]]  # before each batch
    with capsys.disabled():
        print("\n" + markdown_table(found["rows"], list(found["rows"][0])))
        print(f"slope over the second half: {found['slope_mib_per_100_scenes']:+.2f} MiB per 100 scenes")
    assert found["images_done"] == 256
    half = len(rss) // 2
    first, second = statistics.median(rss[1:half]), statistics.median(rss[half:])
    with capsys.disabled():
        print(f"median RSS: first half {first:.1f} MiB, second half {second:.1f} MiB")
    # RSS steps between allocator states (±25 MiB from batch to batch, measured), so one sample says
    # little and a fitted slope over eight is noise; the halves' medians (after the warm-up batch)
    # may differ by at most 24 MiB, which a leak of ≥ 0.2 MiB per image (128 images apart:
    # 7 GB over the paper's 35 000 images) would exceed
    assert second - first <= 24.0, rss
