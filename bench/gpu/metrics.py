"""GPU check, section "metrics": evaluate on every backend on the card against the CPU reference."""

from __future__ import annotations

import torch

from bench.timing import timed
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.toy import load_scenenet
from idgi_fast.ops.native import native_error
from idgi_fast.utils.tables import markdown_table

METRIC_GROUPS = {  # options, metric images scored per input image
    "insertion + deletion": (dict(metrics=["insertion", "deletion"], insertion_canvas="blur"), 2 * 21 + 1),
    "SIC + AIC, entropy (WebP method 0)": (
        dict(metrics=["sic", "aic"], information=["entropy"], webp_method=0),
        26,
    ),
    "SIC + AIC, MS-SSIM": (dict(metrics=["sic", "aic"], information=["msssim"]), 26),
    "all four, MS-SSIM only": (
        dict(metrics=["insertion", "deletion", "sic", "aic"], information=["msssim"]),
        2 * 21 + 27,
    ),
    "ROAD, MoRF + LeRF (7 percentages)": (dict(metrics=["road"]), 2 * 7),
}


def check_metrics(report: dict, device: str, images: int, rounds: int) -> int:
    """Every backend on the device against the reference on the CPU, and timed against the floor.
    ROAD's reference is the CPU's native op instead where it builds: the reference's plain CG takes
    minutes on these scenes, and the suite holds the native op to it."""
    from floor import scoring_floor

    model_cpu, model_dev = load_scenenet(), load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x = quantised(scenes.images)
    attributions = explain(model_cpu, x, target=scenes.labels, method="ig", steps=32).attribution(idgi=True)
    images_d, attributions_d, labels_d = x.to(device), attributions.to(device), scenes.labels.to(device)
    backends = ["reference", "torch"] + (["triton"] if device == "cuda" else [])
    batch = 64 if device == "cuda" else 32
    rows, failures = [], 0
    for group, (options, per_image) in METRIC_GROUPS.items():
        oracle = "native" if options["metrics"] == ["road"] and native_error() is None else "reference"
        want = evaluate(
            model_cpu,
            x,
            attributions,
            scenes.labels,
            backend=oracle,
            show_progress=False,
            batch_size=batch,
            **options,
        )
        floor_seconds = timed(lambda: scoring_floor(model_dev, images_d, labels_d, per_image, batch), rounds)
        rows.append(
            {"metrics": group, "backend": "model-only floor", f"{device} s": floor_seconds, "× floor": 1.0}
        )
        for backend in [b for b in backends if not (b == "reference" and options["metrics"] == ["road"])]:

            def run():
                return evaluate(
                    model_dev,
                    images_d,
                    attributions_d,
                    labels_d,
                    backend=backend,
                    show_progress=False,
                    batch_size=batch,
                    **options,
                )

            got = run()
            worst, same_nan = _largest_difference(want, got)
            passed = same_nan and worst <= 1e-4
            failures += not passed
            seconds = timed(run, rounds)
            rows.append(
                {
                    "metrics": group,
                    "backend": backend,
                    "max abs diff vs CPU reference": worst,
                    "same skips": same_nan,
                    "pass": passed,
                    f"{device} s": seconds,
                    "× floor": seconds / floor_seconds,
                    "images/s": images / seconds,
                }
            )
    report["metrics"] = rows
    _print_rows(rows, device, images, batch, rounds)
    return failures


def _print_rows(rows: list, device: str, images: int, batch: int, rounds: int) -> None:
    print(
        f"\n## Metrics on {device} per backend vs the reference on the CPU ({images} scenes, IG+IDGI maps, "
        f"{batch} images per model call, median of {rounds})\n"
    )
    print(
        markdown_table(
            rows,
            [
                "metrics",
                "backend",
                "max abs diff vs CPU reference",
                "same skips",
                "pass",
                f"{device} s",
                "× floor",
                "images/s",
            ],
        )
    )


def _largest_difference(want, got) -> tuple[float, bool]:
    """The largest per-image difference where both scored, and whether both skipped the same images."""
    worst, same_nan = 0.0, True
    for key, values in want.per_image.items():
        other = got.per_image[key].double().cpu()
        same_nan &= bool(torch.equal(torch.isnan(values), torch.isnan(other)))
        both = ~torch.isnan(values) & ~torch.isnan(other)
        if both.any():
            worst = max(worst, float((values[both] - other[both]).abs().max()))
    return worst, same_nan
