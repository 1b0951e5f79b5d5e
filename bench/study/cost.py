"""What the study costs at scale: seconds per image on this device for each zoo model under the
study's settings, and the projected device-hours of the full study.

    PYTHONPATH=. python3 -m bench.study.cost --commit <sha> --out $OUT

The study's settings (shared/study): IG, Blur IG and Guided IG, each with and without IDGI (one
run gives both), at 8, 16, 32, 64 and 128 steps; insertion, deletion, SIC and AIC (entropy and
MS-SSIM axes, blurred insertion canvas) for every map; JPEG stability (one more explain of each
batch). That is what `idgi-fast run --steps 8,16,32,64,128` does per batch of images.

Per model (random weights, eval mode, at its own input size; random images and labels, so no
image is skipped as misclassified) the script times, after a warm-up:
  - explain of IG and Blur IG once at 128 steps with compute_at 8…128 (one run yields every count);
  - explain of Guided IG at each step count (it has no compute_at);
  - evaluate of one map per image with every metric: each of the 30 maps (3 methods × base/IDGI ×
    5 counts) costs the same number of scoring passes, so the metrics cost 30 times this.
Stability doubles each explain. With --full the study's own batch function (`_explain_and_score`)
is timed too for the first model, as a check on the sum above.
Projected hours: seconds per image × images (50 000 ImageNet validation images; the study
explained the ~35K each model classifies correctly) / 3600, and the same over 8 cards under
torchrun (work split evenly across ranks: ÷ 8).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from bench.timing import synchronize
from idgi_fast import evaluate, explain
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.zoo import ZOO, build_model
from idgi_fast.runtime.precision import PRECISIONS
from idgi_fast.study.execution.batches import explain_and_score
from idgi_fast.study.inputs.config import StudyConfig
from idgi_fast.utils.tables import markdown_table

STEP_COUNTS = (8, 16, 32, 64, 128)
METRICS = ("insertion", "deletion", "sic", "aic")
METRIC_OPTIONS = {"insertion_canvas": "blur", "information": ("entropy", "msssim"), "webp_method": 0}
MAPS_PER_IMAGE = 3 * 2 * len(STEP_COUNTS)
VALIDATION_IMAGES = 50_000
STUDY_IMAGES = 35_000


def clock(fn) -> float:
    synchronize()
    start = time.perf_counter()
    fn()
    synchronize()
    return time.perf_counter() - start


def model_cost(
    name: str, device: str, images: int, full: bool, precision="fp32", channels_last=False
) -> dict:
    torch.manual_seed(0)
    model = build_model(name, None, device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    side = ZOO[name].crop
    x = quantised(torch.rand(images, 3, side, side, device=device))
    labels = torch.randint(0, 1000, (images,), device=device)

    def run_explain(method, steps, counts):
        return explain(
            model,
            x,
            target=labels,
            method=method,
            steps=steps,
            idgi=True,
            compute_at=counts,
            precision=precision,
        )

    def run_evaluate(maps):
        return evaluate(
            model, x, maps, labels, METRICS, show_progress=False, precision=precision, **METRIC_OPTIONS
        )

    # warm-up: cuDNN plans, Triton compilation, the allocator, WebP/MS-SSIM paths
    warm = run_explain("ig", 8, None)
    run_evaluate(warm.attribution(idgi=True))
    run_explain("blur_ig", 8, None)
    run_explain("guided_ig", 8, None)

    seconds = {
        "ig": clock(lambda: run_explain("ig", 128, list(STEP_COUNTS))),
        "blur_ig": clock(lambda: run_explain("blur_ig", 128, list(STEP_COUNTS))),
        "guided_ig": sum(clock(lambda s=s: run_explain("guided_ig", s, None)) for s in STEP_COUNTS),
    }
    maps = run_explain("ig", 32, None).attribution(idgi=True)
    one_map = clock(lambda: run_evaluate(maps))
    explain_total = 2 * sum(seconds.values())  # stability: the same explain of the JPEG round trip
    metrics_total = MAPS_PER_IMAGE * one_map
    per_image = (explain_total + metrics_total) / images
    row = {
        "model": name,
        "input": f"{side}²",
        "precision": precision + (", channels-last" if channels_last else ""),
        "IG s/img": 2 * seconds["ig"] / images,
        "Blur IG s/img": 2 * seconds["blur_ig"] / images,
        "Guided IG s/img": 2 * seconds["guided_ig"] / images,
        "metrics s/img (30 maps)": metrics_total / images,
        "s/img": per_image,
        "h, 50K img, 1 card": per_image * VALIDATION_IMAGES / 3600,
        "h, 50K img, 8 cards": per_image * VALIDATION_IMAGES / 3600 / 8,
    }
    if full:
        config = StudyConfig(
            models=(name,),
            steps=STEP_COUNTS,
            data_root="(timing only)",
            images_per_batch=images,
            precision=precision,
            metrics=METRICS,
            metric_options=dict(METRIC_OPTIONS),
        )
        ids = [str(i) for i in range(images)]
        total = 0.0
        for method in ("ig", "blur_ig", "guided_ig"):
            for steps, counts in config.runs(method):
                total += clock(
                    lambda m=method, s=steps, c=counts: explain_and_score(
                        config, model, x, labels, m, s, c, ids, model_name=name
                    )
                )
        row["study batch s/img (check)"] = total / images
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--images", type=int, default=8, help="images per batch")
    parser.add_argument("--models", default=",".join(ZOO), help="comma-separated zoo models")
    parser.add_argument(
        "--full", action="store_true", help="also time the study's batch function (first model)"
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32", help="explain's and evaluate's")
    parser.add_argument("--channels-last", action="store_true", help="the models' weights in channels-last")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device", file=sys.stderr)
        return 2
    card = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    report = {"card": card, "date": time.strftime("%Y-%m-%d"), "commit": args.commit, "rows": []}
    args.out.mkdir(parents=True, exist_ok=True)
    numerics = args.precision + (", channels-last" if args.channels_last else "")
    batch = f"{args.images} images per batch, {numerics}"
    print(f"\n# Study cost: {card}, {report['date']}, commit {args.commit}, {batch}\n")
    for index, name in enumerate(args.models.split(",")):
        started = time.perf_counter()
        row = model_cost(
            name, args.device, args.images, args.full and index == 0, args.precision, args.channels_last
        )
        if args.device == "cuda":
            torch.cuda.empty_cache()  # the model is gone: hand its memory back before the next one
        row["script s"] = time.perf_counter() - started
        report["rows"].append(row)
        print(json.dumps(row), flush=True)
        (args.out / "study_cost.json").write_text(json.dumps(report, indent=2) + "\n")
    rows = report["rows"]
    total = sum(r["s/img"] for r in rows)
    print(f"\n{markdown_table(rows, list(rows[0]))}\n")
    print(
        f"All {len(rows)} models: {total:.2f} s per image; full study over {VALIDATION_IMAGES} images: "
        f"{total * VALIDATION_IMAGES / 3600:.0f} device-hours on one card, "
        f"{total * VALIDATION_IMAGES / 3600 / 8:.1f} h on 8 cards; over the {STUDY_IMAGES} correctly "
        f"classified images: {total * STUDY_IMAGES / 3600:.0f} h / {total * STUDY_IMAGES / 3600 / 8:.1f} h."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
