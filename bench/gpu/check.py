"""One-call GPU check: correctness of every CUDA path against the float64 CPU reference, and timings.

Run on a lent GPU from the repository root (the package needs no install there):

    PYTHONPATH=. python3 -m bench.gpu.check --commit <sha> --out $OUT

It prints a Markdown report (tee it to a file) and writes gpu_check.json under --out. Sections:
  1. the card, versions and the measured device-to-device copy bandwidth (the roofline);
  2. every Triton kernel, compiled, against its op's torch implementation on fresh random
     inputs of odd sizes, with the caching allocator poisoned by NaN first (an element a
     kernel forgets to write shows up), and its time against the copy bandwidth;
  3. every backend on CUDA (float32, the caller's TF32 flags off and on: explain turns TF32
     off itself) against the float64 reference on the CPU — Guided IG must meet docs/semantics.md
     §7 (relative L2 ≤ 1e-3) — and the fast backends against the CUDA reference (§7's
     max |a − r| ≤ 1e-5·max|r| + 1e-7; every result finite);
  4. end-to-end time of each method ± IDGI per backend against the model-only floor
     (bench/floor.py): forward + backward passes over the same points in the same chunks,
     nothing else — on the embedded model and on ResNet-50 (random weights) when
     torchvision is there;
  5. the metrics (idgi_fast.evaluate) on every backend with the model and images on CUDA
     against the reference on the CPU: per-image scores must skip the same images and agree to
     1e-4 (the model's float32 logits differ slightly between devices, and SIC's normalisation
     magnifies that); each group timed against its scoring floor (forward passes over the same
     number of metric images);
  6. the rest of the family (section "family"): a noise tunnel (SmoothGrad² over IG ± IDGI) and
     the seeded GradientSHAP on CUDA against the same seed on the CPU (relative L2 ≤ 1e-3, every
     sample's IDGI complete), XRAI's region selection on CUDA against the CPU for the same
     attribution (scikit-image permitting), each timed against its floor;
  7. CUDA graphs (section "graphs"): explain and evaluate with graphs on against off (equal
     results, the graph captured and replayed from the cache), each timed against the eager
     floor and the floor replayed as one graph per chunk; tests/runtime/test_graphs.py on the card;
  8. precision= (section "precision"): tf32 and bf16 against fp32, and channels-last weights,
     for explain per method (error and time) and evaluate per metric group (score changes and
     time); bench/study/precision.py runs the whole embedded study per precision.
Kernel rows also give the device time alone (the launch replayed from a CUDA graph), which
the bandwidth targets are about; the wall time adds Python's per-launch overhead.
Timings are medians of several rounds after a warm-up, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from bench.gpu.backends import check_backends, check_reference, time_methods
from bench.gpu.family import check_family
from bench.gpu.graphs import check_graphs
from bench.gpu.kernels import check_kernels
from bench.gpu.metrics import check_metrics
from bench.gpu.precision import check_precision
from bench.timing import METHODS, copy_bandwidth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commit", default="unknown")
    parser.add_argument("--out", type=Path, default=Path("."))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--metric-images", type=int, default=8, help="scenes for the metrics section")
    parser.add_argument(
        "--sections",
        default="kernels,graphs,precision,reference,backends,e2e,metrics,family",
        help="comma-separated subset of kernels,graphs,precision,reference,backends,e2e,metrics,family",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="methods the e2e section times")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run the reference and backend checks this many times"
    )
    parser.add_argument(
        "--device", default="cuda", help="cpu: a dry run of this script before spending GPU time"
    )
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run this on a lent GPU (or --device cpu for a dry run)", file=sys.stderr)
        return 2
    import triton

    card = torch.cuda.get_device_name() if args.device == "cuda" else "cpu (dry run)"
    report = {
        "card": card,
        "date": time.strftime("%Y-%m-%d"),
        "commit": args.commit,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "copy_GBps": copy_bandwidth(args.device),
    }
    print(f"# GPU check: {report['card']}, {report['date']}, commit {report['commit']}")
    print(
        f"torch {report['torch']}, triton {report['triton']}, device-to-device copy "
        f"{report['copy_GBps']:.0f} GB/s"
    )
    sections = set(args.sections.split(","))
    failures = 0
    if "kernels" in sections:
        failures += check_kernels(report, args.device, args.rounds, report["copy_GBps"])
    for _ in range(args.repeat):  # the same checks again: are the GPU results reproducible?
        if "reference" in sections:
            failures += check_reference(report, args.device, images=2, steps=16)
        if "backends" in sections:
            failures += check_backends(report, args.device, images=2, steps=16)
    if "e2e" in sections:
        time_methods(report, args.device, rounds=args.rounds, methods=args.methods.split(","))
    if "metrics" in sections:
        failures += check_metrics(report, args.device, images=args.metric_images, rounds=args.rounds)
    if "family" in sections:
        failures += check_family(report, args.device, rounds=args.rounds)
    if "graphs" in sections:
        failures += check_graphs(report, args.device, rounds=args.rounds)
    if "precision" in sections:
        failures += check_precision(report, args.device, rounds=args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{failures} check(s) failed" if failures else "\nall checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
