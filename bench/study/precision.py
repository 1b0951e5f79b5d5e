"""What a precision changes in a whole study: the embedded study (or a smaller one) run at fp32
and at each other precision, side by side, into one folder; per metric the differences of the
per-image scores and of the aggregates against fp32, the claims whose verdict flips, and the
time of each run.

    PYTHONPATH=. .venv/bin/python bench/study/precision.py --out /tmp/precision  # CPU: fp32, bf16
    PYTHONPATH=. python bench/study/precision.py --out /tmp/precision --channels-last  # on a card

On CUDA tf32 runs too (on the CPU it is fp32 by construction). --channels-last adds, per
precision, a run with channels-last weights.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from idgi_fast.study import Store, StudyConfig, run_study
from idgi_fast.study.report.tables import build_report
from idgi_fast.utils.tables import markdown_table


def _scores(db: Path) -> dict[tuple, float]:
    """(model, method, steps, idgi, count, image, metric) → value, NULLs left out."""
    store = Store(db, "bench")
    try:
        return {tuple(row[:7]): row[7] for row in store.results("scores") if row[7] is not None}
    finally:
        store.close()


def _verdicts(db: Path) -> dict[tuple, str]:
    claims = build_report(db).claims
    return {(r["model"], r["method"], r["claim"], r["steps"]): r["verdict"] for r in claims.rows}


def _differences(exact: dict, other: dict) -> dict[str, dict]:
    """Per metric: mean and largest |Δ| of the per-image values scored under both."""
    found: dict[str, list[float]] = {}
    for key, value in exact.items():
        if key in other and key[6] != "completeness_gap":
            found.setdefault(key[6], []).append(abs(other[key] - value))
    return {
        metric: {"mean |Δ| per image": sum(d) / len(d), "max |Δ| per image": max(d), "values": len(d)}
        for metric, d in sorted(found.items())
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    precisions = ["fp32", "tf32", "bf16"] if cuda else ["fp32", "bf16"]
    runs = [(p, False) for p in precisions] + ([(p, True) for p in precisions] if args.channels_last else [])
    config, seconds = StudyConfig(images=args.images), {}
    args.out.mkdir(parents=True, exist_ok=True)
    for precision, last in runs:
        db = args.out / f"{precision}{'_cl' if last else ''}.sqlite"
        started = time.perf_counter()
        run_study(replace(config, precision=precision, channels_last=last), db, show_progress=False)
        seconds[db.stem] = time.perf_counter() - started
    exact, verdicts = _scores(args.out / "fp32.sqlite"), _verdicts(args.out / "fp32.sqlite")
    rows, flips = [], []
    for name in seconds:
        other = _scores(args.out / f"{name}.sqlite")
        for metric, found in _differences(exact, other).items():
            rows.append({"run": name, "metric": metric, **found})
        for claim, verdict in _verdicts(args.out / f"{name}.sqlite").items():
            if verdict != verdicts.get(claim):
                flips.append(
                    {
                        "run": name,
                        "claim": " / ".join(map(str, claim)),
                        "fp32": verdicts.get(claim),
                        "now": verdict,
                    }
                )
    device = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"\n## The embedded study ({args.images} scenes) per precision on {device}\n")
    print(
        markdown_table(
            [{"run": k, "s": v, "× fp32": v / seconds["fp32"]} for k, v in seconds.items()],
            ["run", "s", "× fp32"],
        )
    )
    print("\n### Per-image score differences against fp32\n")
    print(
        markdown_table(
            [r for r in rows if r["run"] != "fp32"],
            ["run", "metric", "mean |Δ| per image", "max |Δ| per image", "values"],
        )
    )
    print(f"\n### Claims whose verdict differs from fp32's ({len(verdicts)} claims)\n")
    print(markdown_table(flips, ["run", "claim", "fp32", "now"]) if flips else "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
