"""Do fitted step schedules buy the scores of more uniform steps? (issue 19, docs/extensions.md §12)

Fits a schedule of m = 8 and 16 intervals per method on held-out scenes (seed 2, disjoint from
the scored ones), then scores the scenes the study scores (seed 1, 8-bit) with the fitted
schedules and with uniform m = 8 … 128: insertion (blur canvas), SIC and AIC (entropy axis,
WebP method 0) of the base and IDGI maps, and the base methods' completeness gap. IG uses the
left rule for both kinds of schedule (RiemannOpt's). Writes a Markdown table and two figures
(the fitted positions; each score against model calls per image).

    .venv/bin/python bench/tools/schedule_evidence.py --out bench/schedule_evidence
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.methods import METHOD_NAMES, variant_title
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.toy import load_scenenet
from idgi_fast.schedules import fit
from idgi_fast.study.drawing import curve_panels, save_png, variant_colour
from idgi_fast.utils.tables import markdown_table

UNIFORM = (8, 16, 32, 64, 128)
FITTED = (8, 16)
PARAMS = {"ig": {"rule": "left"}, "blur_ig": {}, "guided_ig": {}}
METRICS = {"insertion/probability": "insertion", "sic/entropy": "SIC", "aic/entropy": "AIC"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("schedule_evidence"))
    parser.add_argument("--fit-images", type=int, default=16)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--methods", default=",".join(METHOD_NAMES))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = load_scenenet()
    fitting = generate_scenes(args.fit_images, seed=2)
    scored = generate_scenes(args.images, seed=1)
    images, labels = quantised(scored.images), scored.labels
    rows, schedules, started = [], {}, time.perf_counter()
    for method in args.methods.split(","):
        params = PARAMS[method]
        runs = [("uniform", m, {"steps": m}) for m in UNIFORM]
        for m in FITTED:
            schedule = fit(
                model, quantised(fitting.images), fitting.labels, method, m, model_name="scenenet", **params
            )
            schedules[f"{method} m={m}"] = list(schedule.positions)
            runs.append(("fitted", m, {"schedule": schedule}))
        for kind, m, how in runs:
            result = explain(model, images, target=labels, method=method, idgi=True, **how, **params)
            for idgi in (False, True):
                scores = evaluate(
                    model,
                    images,
                    result.attribution(idgi=idgi),
                    labels,
                    ["insertion", "sic", "aic"],
                    insertion_canvas="blur",
                    information=["entropy"],
                    webp_method=0,
                    show_progress=False,
                )
                rows.append(
                    {
                        "method": variant_title(method, idgi),
                        "schedule": f"{kind} m={m}",
                        "model calls/image": result.evaluations,
                        **{label: scores.aggregate[key] for key, label in METRICS.items()},
                        "completeness gap": float(result.completeness_gap(idgi=idgi).mean()),
                    }
                )
                print(markdown_table(rows[-1:], list(rows[-1])), flush=True)
    table = markdown_table(rows, list(rows[0]))
    (args.out / "schedule_evidence.md").write_text(table + "\n")
    (args.out / "schedule_evidence.json").write_text(
        json.dumps({"rows": rows, "schedules": schedules}, indent=2)
    )
    _figures(rows, schedules, args.out)
    print(f"\n{table}\n\n{time.perf_counter() - started:.0f} s")
    return 0


def _figures(rows, schedules, out: Path) -> None:
    """The fitted positions (light m = 8, dark m = 16), then each score against model calls for
    the base methods and for IDGI, each method's colour light for uniform and dark for fitted."""
    colours = {}
    panels = [{"title": "fitted positions", "xlabel": "point k / m", "ylabel": "alpha_k", "series": {}}]
    for name, positions in schedules.items():
        m = len(positions) - 1
        colours[name] = variant_colour(name.split(" ")[0], m == 16)
        panels[0]["series"][name] = (np.arange(m + 1) / m, np.array(positions))
    low, high = math.log2(UNIFORM[0] + 1), math.log2(UNIFORM[-1] + 1)
    ticks = [((math.log2(n + 1) - low) / (high - low), str(n + 1)) for n in UNIFORM]
    methods = [m for m in METHOD_NAMES if any(r["method"] == variant_title(m, False) for r in rows)]
    for idgi in (False, True):
        for label in ("insertion", "SIC", "AIC"):
            panel = {
                "title": f"{label}, {'IDGI' if idgi else 'base methods'}",
                "xlabel": "model calls per image (log scale)",
                "ylabel": label,
                "series": {},
                "xticks": ticks,
            }
            for method in methods:
                for kind in ("uniform", "fitted"):
                    chosen = [
                        r
                        for r in rows
                        if r["method"] == variant_title(method, idgi) and r["schedule"].startswith(kind)
                    ]
                    name = f"{variant_title(method, False)}, {kind}"
                    colours.setdefault(name, variant_colour(method, kind == "fitted"))
                    xs = np.array([(math.log2(r["model calls/image"]) - low) / (high - low) for r in chosen])
                    panel["series"][name] = (xs, np.array([r[label] for r in chosen], dtype=float))
            panels.append(panel)
    figure = curve_panels(panels, colours, columns=4, panel_size=(400, 320))
    save_png(figure, out / "schedule_evidence.png")


def redraw(folder: Path) -> None:
    """The figure again from a finished run's JSON (no model calls)."""
    data = json.loads((folder / "schedule_evidence.json").read_text())
    _figures(data["rows"], data["schedules"], folder)


if __name__ == "__main__":
    raise SystemExit(main())
