"""One-call GPU check: correctness of every CUDA path against the float64 CPU reference, and timings.

Run on a lent GPU from the repository root (the package needs no install there):

    PYTHONPATH=. python3 bench/gpu_check.py --commit <sha> --out $OUT

It prints a Markdown report (tee it to a file) and writes gpu_check.json under --out. Sections:
  1. the card, versions and the measured device-to-device copy bandwidth (the roofline);
  2. every registered Triton kernel, compiled, against its torch implementation (none yet);
  3. the reference backend on CUDA (float32, with the user's TF32 flags off and on: explain
     turns TF32 off itself) against float64 on the CPU; Guided IG must meet SEMANTICS.md §7
     (relative L2 ≤ 1e-3) and every result must be finite;
  4. end-to-end time of each method (base + IDGI from one run) against the model-only floor
     (bench/floor.py): forward + backward passes over the same number of points, nothing else;
  5. the reference metrics (idgi_fast.evaluate) with the model and images on CUDA against the
     same call on the CPU: per-image scores must be finite and agree to 1e-4 (the model's
     float32 logits differ slightly between devices, and SIC's normalisation magnifies that),
     and the time of each metric group on both devices.
Timings are medians of several rounds after a warm-up, measured side by side in one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from idgi_fast import evaluate, explain
from idgi_fast.metrics.stability import quantised
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.models.toy import load_scenenet
from idgi_fast.tables import markdown_table

from floor import model_only_floor  # bench/ is on sys.path when this file runs as a script

METHODS = ("ig", "blur_ig", "guided_ig")
# Triton kernels register here as (name, check function) once they exist (fast backend issue).
KERNEL_CHECKS: list = []


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn, rounds: int) -> float:
    fn()  # warm-up: allocator, cuDNN autotuning, Triton compilation
    synchronize()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        synchronize()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def copy_bandwidth(device: str, gigabytes: float = 1.0) -> float:
    """Device-to-device copy, GB/s counting bytes read and written."""
    n = int(gigabytes * 2**30 / 4)
    src = torch.empty(n, device=device)
    dst = torch.empty_like(src)
    seconds = timed(lambda: dst.copy_(src), rounds=10)
    return 2 * n * 4 / seconds / 1e9


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm().clamp(min=1e-300))


def check_reference(report: dict, device: str, images: int, steps: int) -> int:
    model64, model32 = load_scenenet(dtype=torch.float64), load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x, labels = scenes.images.to(device), scenes.labels.to(device)
    rows = []
    defaults = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    for method in METHODS:
        want = explain(model64, scenes.images.double(), target=scenes.labels, method=method, steps=steps)
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            got = explain(model32, x, target=labels, method=method, steps=steps)
            finite = bool(torch.isfinite(got.base).all() and torch.isfinite(got.idgi).all())
            base_error = relative_l2(got.base, want.base)
            passed = finite and (method != "guided_ig" or base_error <= 1e-3)
            rows.append({"method": method, "user tf32 flags": tf32, "finite": finite,
                         "base rel L2": base_error,
                         "idgi rel L2": relative_l2(got.idgi, want.idgi),
                         "outputs max abs": float((got.outputs.double().cpu() - want.outputs).abs().max()),
                         "pass": passed})
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = defaults
    report["reference_cuda_vs_cpu64"] = rows
    print(f"\n## Reference on {device} (float32) vs float64 on the CPU ({images} images, steps={steps})\n")
    print(markdown_table(rows, list(rows[0])))
    return sum(not row["pass"] for row in rows)


def time_methods(report: dict, device: str, images: int, steps: int, rounds: int) -> None:
    model = load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x, labels = scenes.images.to(device), scenes.labels.to(device)
    rows = []
    for method in METHODS:
        result = explain(model, x, target=labels, method=method, steps=steps)
        seconds = timed(lambda: explain(model, x, target=labels, method=method, steps=steps), rounds)
        floor_seconds = timed(lambda: model_only_floor(model, x, labels, result.evaluations), rounds)
        rows.append({"method": method, "backend": "reference", "images": images, "steps": steps,
                     "evals/image": result.evaluations, "seconds": seconds, "floor seconds": floor_seconds,
                     "ratio to floor": seconds / floor_seconds,
                     "images/s": images / seconds})
    report["end_to_end"] = rows
    print(f"\n## End to end, embedded model, base + IDGI from one run (median of {rounds})\n")
    print(markdown_table(rows, list(rows[0])))


METRIC_GROUPS = {
    "insertion + deletion": dict(metrics=["insertion", "deletion"], insertion_canvas="blur"),
    "SIC + AIC, entropy (WebP method 0)": dict(metrics=["sic", "aic"], information=["entropy"], webp_method=0),
    "SIC + AIC, MS-SSIM": dict(metrics=["sic", "aic"], information=["msssim"]),
    "localization": dict(metrics=["localization"]),
}


def check_metrics(report: dict, device: str, images: int, rounds: int) -> int:
    model_cpu, model_dev = load_scenenet(), load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x = quantised(scenes.images)
    attributions = explain(model_cpu, x, target=scenes.labels, method="ig", steps=32).attribution(idgi=True)
    on_device = (x.to(device), attributions.to(device), scenes.labels.to(device), scenes.masks.to(device))
    rows, failures = [], 0
    for group, options in METRIC_GROUPS.items():
        def run_cpu():
            return evaluate(model_cpu, x, attributions, scenes.labels, masks=scenes.masks, **options)

        def run_dev():
            images_d, attributions_d, labels_d, masks_d = on_device
            return evaluate(model_dev, images_d, attributions_d, labels_d, masks=masks_d, **options)

        want, got = run_cpu(), run_dev()
        worst, finite = 0.0, True
        for key, values in want.per_image.items():
            other = got.per_image[key].double().cpu()
            finite &= bool(torch.equal(torch.isnan(values), torch.isnan(other)))
            both = ~torch.isnan(values)
            if both.any():
                worst = max(worst, float((values[both] - other[both]).abs().max()))
        passed = finite and worst <= 1e-4
        failures += not passed
        seconds_dev = timed(run_dev, rounds)
        seconds_cpu = timed(run_cpu, 1)
        rows.append({"metrics": group, "max abs diff per image": worst, "same NaN pattern": finite, "pass": passed,
                     f"{device} s": seconds_dev, "cpu s": seconds_cpu, f"{device} images/s": images / seconds_dev,
                     "cpu images/s": images / seconds_cpu})
    report["metrics_reference"] = rows
    print(f"\n## Reference metrics with the model on {device} vs on the CPU ({images} scenes, IG+IDGI maps, "
          f"median of {rounds} on {device}, 1 on the CPU)\n")
    print(markdown_table(rows, list(rows[0])))
    return failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--metric-images", type=int, default=8, help="scenes for the metrics section")
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of this script before spending GPU time")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run this on a lent GPU (or --device cpu for a dry run)", file=sys.stderr)
        return 2
    import triton

    card = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (dry run)"
    report = {"card": card, "date": time.strftime("%Y-%m-%d"), "commit": args.commit,
              "torch": torch.__version__, "triton": triton.__version__, "copy_GBps": copy_bandwidth(args.device)}
    print(f"# GPU check: {report['card']}, {report['date']}, commit {report['commit']}")
    print(f"torch {report['torch']}, triton {report['triton']}, device-to-device copy {report['copy_GBps']:.0f} GB/s")
    print(f"\n## Triton kernels: {len(KERNEL_CHECKS)} registered" + ("" if KERNEL_CHECKS else " (none in this commit)"))
    failures = 0
    for name, check in KERNEL_CHECKS:
        failures += not check(report)
    failures += check_reference(report, args.device, images=2, steps=16)
    time_methods(report, args.device, images=args.images, steps=args.steps, rounds=args.rounds)
    failures += check_metrics(report, args.device, images=args.metric_images, rounds=args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{failures} check(s) failed" if failures else "\nall checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
