"""The study API's cost over a plain explain + evaluate loop on the same images (the embedded
model, IG ± IDGI at 8 steps, insertion, deletion, SIC and AIC on both axes): at most 5 %, medians
of rounds timed in alternation. Run: `.venv/bin/python -m pytest bench/study/test_overhead.py`;
bench/RESULTS.md keeps a measured one."""

from __future__ import annotations

from bench.study.overhead import study_overhead


def test_the_study_api_costs_at_most_five_percent_over_the_loop(capsys):
    found = study_overhead(scenes=32, rounds=5)
    with capsys.disabled():
        print(
            f"\nloop {found['loop_s']:.2f} s, study API {found['api_s']:.2f} s "
            f"(medians of {found['rounds']}), overhead {100 * found['overhead']:+.1f} %"
        )
    assert found["overhead"] <= 0.05, found
