"""One-call GPU check: correctness of every CUDA path against the float64 CPU reference, and timings.

Run on a lent GPU from the repository root (the package needs no install there):

    PYTHONPATH=. python3 bench/gpu_check.py --commit <sha> --out $OUT

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
     floor and the floor replayed as one graph per chunk; tests/test_graphs.py on the card;
  8. precision= (section "precision"): tf32 and bf16 against fp32 per method, error and time.
Kernel rows also give the device time alone (the launch replayed from a CUDA graph), which
the bandwidth targets are about; the wall time adds Python's per-launch overhead.
Timings are medians of several rounds after a warm-up, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from floor import model_only_floor  # bench/ is on sys.path when this file runs as a script
from workloads import SLOW_REFERENCE

from idgi_fast import evaluate, explain, gradient_shap
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.graphs import StaticCall
from idgi_fast.methods import METHOD_NAMES, method_spec
from idgi_fast.metrics.stability import quantised
from idgi_fast.models.toy import load_scenenet
from idgi_fast.tables import markdown_table

METHODS = METHOD_NAMES
CHUNK = 64


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


def graphed_seconds(fn, reps: int = 20) -> float:
    """Device time of one fn() call: `reps` calls captured in one CUDA graph (StaticCall),
    replayed and timed with events, so that Python's launch overhead (tens of µs per Triton
    launch) is left out. NaN when fn cannot be captured (a host sync in its launcher)."""
    call = StaticCall(lambda: [fn() for _ in range(reps)], capture=True, what="a timed kernel")
    call()
    if not call.captured:
        return float("nan")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    for _ in range(5):
        start.record()
        call()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / 1e3 / reps)
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


def poison_allocator(device: str, megabytes: int = 512) -> None:
    """Fill and free NaN blocks so that the caching allocator hands out NaN-filled memory next."""
    blocks = [
        torch.full((megabytes * 2**20 // 8 // 16,), float("nan"), dtype=torch.float64, device=device)
        for _ in range(16)
    ]
    del blocks


def check_kernels(report: dict, device: str, rounds: int, copy_gbps: float) -> int:
    from idgi_fast.ops import accumulate as acc
    from idgi_fast.ops import blur_path as blur
    from idgi_fast.ops import guided_step as guided

    rows = []
    gen = torch.Generator(device=device).manual_seed(0)

    def add(name, shape, error, limit, seconds, nbytes):
        finite_ok = error == error  # NaN never passes
        rows.append(
            {
                "kernel": name,
                "shape": shape,
                "max error": error,
                "limit": limit,
                "pass": bool(finite_ok and error <= limit),
                "ms": seconds * 1e3,
                "GB/s": nbytes / seconds / 1e9 if nbytes else float("nan"),
                "% of copy": 100 * nbytes / seconds / 1e9 / copy_gbps if nbytes else float("nan"),
            }
        )

    def add_device_time(fn, nbytes):
        """The last row's kernel again, timed on the device alone (graphed_seconds)."""
        seconds = graphed_seconds(fn)
        rows[-1]["device ms"] = seconds * 1e3
        rows[-1]["% of copy (device)"] = 100 * nbytes / seconds / 1e9 / copy_gbps

    for dtype in (torch.float32, torch.float64):
        n_points, feature_shape, counts, batch = 67, (3, 37, 53), 3, 9
        g = torch.randn(n_points, *feature_shape, generator=gen, device=device, dtype=dtype)
        mult = torch.randn_like(g)
        images = torch.randint(0, batch, (n_points,), generator=gen, device=device)
        coef = torch.randn(n_points, counts, generator=gen, device=device, dtype=dtype)
        scale = torch.randn_like(coef)
        start = torch.randn(counts, batch, *feature_shape, generator=gen, device=device, dtype=dtype)
        want_b, want_i = start.clone(), start.clone()
        acc.accumulate_torch(g, mult, coef, scale, images, want_b, want_i)
        poison_allocator(device)
        got_b, got_i = start.clone(), start.clone()
        acc.accumulate_triton(g, mult, coef, scale, images, got_b, got_i)
        error = float(torch.maximum((got_b - want_b).abs().max(), (got_i - want_i).abs().max()))
        add(
            f"accumulate {str(dtype)[6:]}",
            "67×3×37×53, 3 counts",
            error,
            1e-4 if dtype == torch.float32 else 1e-10,
            0,
            0,
        )
        poison_allocator(device)
        error = float(
            (acc.squared_norms_triton(g) - acc.squared_norms_torch(g)).abs().max()
            / acc.squared_norms_torch(g).abs().max()
        )
        add(f"squared norms {str(dtype)[6:]}", "67×3×37×53", error, 1e-6, 0, 0)
    on_gpu = device == "cuda"  # a CPU dry run interprets the kernels: small shapes only, no timings
    # bandwidth: one chunk of 64 points of 3×224×224 into one count's base and IDGI accumulators (16 images)
    g = torch.randn(64, 3, 224, 224, generator=gen, device=device)
    images = torch.arange(64, device=device) % 16
    coef = torch.randn(64, 1, generator=gen, device=device)
    base = torch.zeros(1, 16, 3, 224, 224, device=device)
    idgi = torch.zeros_like(base)
    if on_gpu:  # a sweep of tile sizes: the next tuning step starts from measured numbers
        torch_ms = (
            timed(lambda: acc.accumulate_torch(g, None, coef, coef, images, base, idgi), rounds * 10) * 1e3
        )
        for block, warps in ((1024, 4), (2048, 8), (4096, 8), (512, 4)):
            seconds = timed(
                lambda: acc.accumulate_triton(
                    g, None, coef, coef, images, base, idgi, block=block, num_warps=warps
                ),
                rounds * 10,
            )
            nbytes = g.numel() * 4 + 2 * 2 * base.numel() * 4
            add(
                f"accumulate float32, BLOCK {block}, {warps} warps",
                "64 points → 16 images, 3×224²",
                0.0,
                1.0,
                seconds,
                nbytes,
            )
            rows[-1]["torch ms"] = torch_ms
            add_device_time(
                lambda: acc.accumulate_triton(
                    g, None, coef, coef, images, base, idgi, block=block, num_warps=warps
                ),
                nbytes,
            )
            rows[-1]["torch device ms"] = (
                graphed_seconds(lambda: acc.accumulate_torch(g, None, coef, coef, images, base, idgi)) * 1e3
            )
        torch_ms = timed(lambda: acc.squared_norms_torch(g), rounds * 10) * 1e3
        for block, warps in ((4096, 4), (4096, 8), (8192, 8), (1024, 4)):
            seconds = timed(lambda: acc.squared_norms_triton(g, block=block, num_warps=warps), rounds * 10)
            add(
                f"squared norms float32, BLOCK {block}, {warps} warps",
                "64×3×224²",
                0.0,
                1.0,
                seconds,
                g.numel() * 4,
            )
            rows[-1]["torch ms"] = torch_ms
            add_device_time(lambda: acc.squared_norms_triton(g, block=block, num_warps=warps), g.numel() * 4)
            rows[-1]["torch device ms"] = graphed_seconds(lambda: acc.squared_norms_torch(g)) * 1e3

    for padding in ("zeros", "reflect"):
        for shape, sigmas in (
            ((5, 1, 16, 16), [0.0, 0.3, 3.0, 20.0, 50.0]),
            ((3, 3, 37, 53), [1.5, 9.0, 49.6]),
            ((4, 3, 224, 224), [0.0, 12.5, 37.5, 50.0]),
        ):
            if shape[-1] == 224 and not on_gpu:
                continue
            x = torch.rand(*shape, generator=gen, device=device)
            s = torch.tensor(
                sigmas[: shape[0]] + sigmas[: max(0, shape[0] - len(sigmas))], dtype=torch.float64
            )
            want_p, want_d = blur.blur_path_torch(x, s, 0.01, padding)
            poison_allocator(device)
            got_p, got_d = blur.blur_path_triton(x, s, 0.01, padding)
            error = float(
                torch.maximum(
                    (got_p - want_p).abs().max(),
                    (got_d - want_d).abs().max() / want_d.abs().max().clamp(min=1e-30),
                )
            )
            seconds = (
                timed(lambda: blur.blur_path_triton(x, s, 0.01, padding), rounds) if shape[-1] == 224 else 0
            )
            add(f"blur path {padding}", "×".join(map(str, shape)), error, 1e-6, seconds or float("nan"), 0)
            if seconds:
                rows[-1]["torch ms"] = timed(lambda: blur.blur_path_torch(x, s, 0.01, padding), rounds) * 1e3

    for n_rows, n in ((5, 61), (16, 3 * 224 * 224)):
        if n > 1000 and not on_gpu:
            continue
        score = torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64)
        score[0, : n // 3] = float("inf")
        score[1, n // 4 : n // 2] = 0.0
        score[2] = 0.5
        poison_allocator(device)
        error = float(
            (guided.selection_threshold_triton(score, 0.25) - guided.selection_threshold_torch(score, 0.25))
            .abs()
            .max()
        )
        seconds = (
            timed(lambda: guided.selection_threshold_triton(score, 0.25), rounds * 10) if n > 1000 else 0
        )
        add("guided selection", f"{n_rows}×{n}", error, 0.0, seconds or float("nan"), 16 * score.numel() * 8)
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: guided.selection_threshold_torch(score, 0.25), rounds * 10) * 1e3
            )
    for n_rows, n in ((5, 61), (3, 3 * 37 * 53), (16, 3 * 224 * 224)):
        if n > 10000 and not on_gpu:
            continue
        x_in = torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64)
        x_base = torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64) * 0.2
        x_base[:, ::7] = x_in[:, ::7]
        x_base[0] = x_in[0]  # an image at its baseline: it must not move
        gradient = torch.randn(n_rows, n, generator=gen, device=device, dtype=torch.float64)
        gradient[1, ::3] = 0.0
        x_start = (
            x_base
            + (x_in - x_base) * torch.rand(n_rows, n, generator=gen, device=device, dtype=torch.float64) * 0.3
        )
        distance = (x_in - x_base).abs().sum(dim=1)

        def step(implementation):
            x, attribution = x_start.clone(), torch.zeros_like(x_start)
            implementation(x, attribution, x_in, x_base, gradient, distance, 4 / 16, 0.25, 0.02)
            return x, attribution

        want_x, want_a = step(guided.guided_step_torch)
        poison_allocator(device)
        got_x, got_a = step(guided.guided_step_triton)
        error = float(
            torch.maximum(
                (got_x - want_x).abs().max() / want_x.abs().max(),
                (got_a - want_a).abs().max() / want_a.abs().max().clamp(min=1e-300),
            )
        )
        seconds = timed(lambda: step(guided.guided_step_triton), rounds * 3) if n > 10000 else 0
        add(
            "guided step (jump, select, room, masked update)",
            f"{n_rows}×{n}",
            error,
            1e-9,
            seconds or float("nan"),
            0,
        )
        if seconds:
            rows[-1]["torch ms"] = timed(lambda: step(guided.guided_step_torch), rounds * 3) * 1e3
        for selection in ("sort", "radix"):  # the other selections: same element, so the same path

            def other(*args, selection=selection):
                return guided.guided_step_triton(*args, selection=selection)

            got_x, got_a = step(other)
            error = float(
                torch.maximum(
                    (got_x - want_x).abs().max() / want_x.abs().max(),
                    (got_a - want_a).abs().max() / want_a.abs().max().clamp(min=1e-300),
                )
            )
            seconds = timed(lambda: step(other), rounds * 3) if n > 10000 else 0
            add(
                f"guided step, selection {selection}",
                f"{n_rows}×{n}",
                error,
                1e-9,
                seconds or float("nan"),
                0,
            )
    from idgi_fast.metrics.information import ms_ssim_levels
    from idgi_fast.ops import composite as comp
    from idgi_fast.ops import rescore
    from idgi_fast.reference.metrics.common import level_counts, pixel_ranks
    from idgi_fast.reference.metrics.information import ms_ssim

    for n_images, levels, side in ((3, 6, (13, 11)), (16, 25, (224, 224))):
        if side[0] > 100 and not on_gpu:
            continue
        x = torch.rand(n_images, 3, *side, generator=gen, device=device)
        canvas = torch.rand_like(x)
        saliency = torch.randint(-3, 4, (n_images, *side), generator=gen, device=device).double()
        ranks = pixel_ranks(saliency)
        counts = torch.tensor(level_counts(side[0] * side[1], levels - 1), device=device)
        want = comp.composite_torch(x, canvas, ranks, counts)
        poison_allocator(device)
        got = comp.composite_triton(x, canvas, ranks, counts)
        error = 0.0 if torch.equal(got, want) else float("inf")  # bit-identical or failed
        seconds = (
            timed(lambda: comp.composite_triton(x, canvas, ranks, counts), rounds * 10)
            if on_gpu and side[0] > 100
            else 0
        )
        # per metric image pixel: its rank (int32) read, 3 channel values read and written
        add(
            "composite (insertion/bokeh images)",
            f"{n_images}×{levels}×3×{side[0]}×{side[1]}",
            error,
            0.0,
            seconds or float("nan"),
            n_images * levels * side[0] * side[1] * (4 + 3 * 4 * 2),
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: comp.composite_torch(x, canvas, ranks, counts), rounds * 10) * 1e3
            )
    for n_rows, classes in ((7, 5), (400, 1000)):
        logits = torch.randn(n_rows, classes, generator=gen, device=device) * 4
        targets = torch.randint(0, classes, (n_rows,), generator=gen, device=device)
        want_p, want_c = rescore.target_probabilities_torch(logits, targets)
        poison_allocator(device)
        got_p, got_c = rescore.target_probabilities_triton(logits, targets)
        error = float((got_p - want_p).abs().max()) if torch.equal(got_c, want_c) else float("inf")
        seconds = (
            timed(lambda: rescore.target_probabilities_triton(logits, targets), rounds * 10)
            if n_rows > 100 and on_gpu
            else 0
        )
        add(
            "rescoring (target probability, argmax)",
            f"{n_rows}×{classes}",
            error,
            1e-12,
            seconds or float("nan"),
            logits.numel() * 4 + n_rows * 24,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: rescore.target_probabilities_torch(logits, targets), rounds * 10) * 1e3
            )
    for n_rows, levels in ((6, 9), (64, 25)):
        x_levels = torch.rand(n_rows, levels, generator=gen, device=device, dtype=torch.float64) * 1.2 - 0.1
        x_levels[0, 3:6] = 0.5  # ties
        y_levels = torch.rand(n_rows, levels, generator=gen, device=device, dtype=torch.float64) * 0.7
        ends = torch.full((n_rows,), 1.1, dtype=torch.float64, device=device)
        want_curve, want_auc = rescore.information_curves_torch(
            x_levels, ends, y_levels, ends - 0.2, True, 1000
        )
        poison_allocator(device)
        got_curve, got_auc = rescore.information_curves_triton(
            x_levels, ends, y_levels, ends - 0.2, True, 1000
        )
        error = max(float((got_curve - want_curve).abs().max()), float((got_auc - want_auc).abs().max()))
        seconds = (
            timed(
                lambda: rescore.information_curves_triton(x_levels, ends, y_levels, ends - 0.2, True, 1000),
                rounds * 10,
            )
            if n_rows > 10 and on_gpu
            else 0
        )
        add(
            "SIC/AIC curves + AUC (normalise, running max, sort, interpolate)",
            f"{n_rows}×{levels} → 1001",
            error,
            1e-10,
            seconds or float("nan"),
            0,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(
                    lambda: rescore.information_curves_torch(
                        x_levels, ends, y_levels, ends - 0.2, True, 1000
                    ),
                    rounds * 10,
                )
                * 1e3
            )
    for n_images, side, win, scales in ((2, (23, 19), 3, 2), (4, (224, 224), 11, 5)):
        if side[0] > 100 and not on_gpu:
            continue
        references = torch.rand(n_images, 3, *side, generator=gen, device=device)
        levels = (
            references[:, None] + 0.3 * torch.rand(n_images, 5, 3, *side, generator=gen, device=device)
        ).clamp(0, 1)
        want = torch.stack(
            [
                ms_ssim(levels[i], references[i : i + 1].expand_as(levels[i]), win, scales)
                for i in range(n_images)
            ]
        )
        got = ms_ssim_levels(levels, references, win, scales)
        seconds = (
            timed(lambda: ms_ssim_levels(levels, references, win, scales), rounds) if side[0] > 100 else 0
        )
        add(
            "MS-SSIM of many levels (torch, GEMM filter)",
            f"{n_images}×5×3×{side[0]}×{side[1]}",
            float((got - want).abs().max()),
            1e-10,
            seconds or float("nan"),
            0,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(
                    lambda: [
                        ms_ssim(levels[i], references[i : i + 1].expand_as(levels[i]), win, scales)
                        for i in range(n_images)
                    ],
                    rounds,
                )
                * 1e3
            )
    report["kernels"] = rows
    print("\n## Triton kernels against their torch implementations (compiled; allocator poisoned with NaN)\n")
    print(
        "Timing rows: GB/s counts the bytes each kernel must read and write; guided selection reads the row "
        "16 times (one radix pass per 4-bit digit).\n"
    )
    print(
        markdown_table(
            rows,
            [
                "kernel",
                "shape",
                "max error",
                "limit",
                "pass",
                "ms",
                "torch ms",
                "GB/s",
                "% of copy",
                "device ms",
                "torch device ms",
                "% of copy (device)",
            ],
        )
    )
    return sum(not row["pass"] for row in rows)


def check_backends(report: dict, device: str, images: int, steps: int) -> int:
    """The fast backends against the reference, all on the GPU, float32, same inputs."""
    model = load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x, labels = scenes.images.to(device), scenes.labels.to(device)
    rows = []
    for method in METHODS:
        options = dict(target=labels, method=method, steps=steps)
        if method_spec(method).supports_compute_at:
            options["compute_at"] = [steps // 4, steps]
        want = explain(model, x, backend="reference", **options)
        for backend, chunk in [
            (b, c) for b in (("torch", "triton") if device == "cuda" else ("torch",)) for c in (images, CHUNK)
        ]:
            # chunk = images: the reference's model batches (one point per image per call), so the
            # model's own float32 arithmetic is the same; chunk = 64: cuDNN may pick other algorithms
            got = explain(model, x, backend=backend, batch_size=chunk, **options)
            for kind in ("base", "idgi"):
                mine, theirs = getattr(got, kind), getattr(want, kind)
                if isinstance(mine, dict):
                    pairs = [(mine[n], theirs[n]) for n in mine]
                else:
                    pairs = [(mine, theirs)]
                worst = max(
                    float((a - b).abs().max()) / (1e-5 * float(b.abs().max()) + 1e-7) for a, b in pairs
                )
                rel = max(relative_l2(a, b) for a, b in pairs)
                finite = all(bool(torch.isfinite(a).all()) for a, _ in pairs)
                passed = finite and (rel <= 1e-3 if method_spec(method).batch_sensitive else worst <= 1.0)
                if chunk != images:
                    passed = finite  # reported, not judged: the model's batches differ from the reference's
                rows.append(
                    {
                        "method": method,
                        "backend": backend,
                        "points/call": chunk,
                        "estimate": kind,
                        "finite": finite,
                        "max err / §7 limit": worst,
                        "rel L2": rel,
                        "pass": passed,
                    }
                )
    report["backends_vs_reference"] = rows
    print(
        f"\n## Fast backends vs the reference, all on {device}, float32 ({images} scenes, steps={steps}; "
        "IG/Blur IG with compute_at; Guided IG judged by relative L2 ≤ 1e-3)\n"
    )
    print(markdown_table(rows, list(rows[0])))
    return sum(not row["pass"] for row in rows)


def check_reference(report: dict, device: str, images: int, steps: int) -> int:
    model64, model32 = load_scenenet(dtype=torch.float64), load_scenenet().to(device)
    scenes = generate_scenes(images, seed=1)
    x, labels = scenes.images.to(device), scenes.labels.to(device)
    rows = []
    defaults = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    for method in METHODS:
        want = explain(
            model64,
            scenes.images.double(),
            target=scenes.labels,
            method=method,
            steps=steps,
            backend="reference",
        )
        for tf32 in (False, True):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            got = explain(model32, x, target=labels, method=method, steps=steps, backend="reference")
            finite = bool(torch.isfinite(got.base).all() and torch.isfinite(got.idgi).all())
            base_error = relative_l2(got.base, want.base)
            passed = finite and (not method_spec(method).batch_sensitive or base_error <= 1e-3)
            rows.append(
                {
                    "method": method,
                    "user tf32 flags": tf32,
                    "finite": finite,
                    "base rel L2": base_error,
                    "idgi rel L2": relative_l2(got.idgi, want.idgi),
                    "outputs max abs": float((got.outputs.double().cpu() - want.outputs).abs().max()),
                    "pass": passed,
                }
            )
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = defaults
    report["reference_cuda_vs_cpu64"] = rows
    print(f"\n## Reference on {device} (float32) vs float64 on the CPU ({images} images, steps={steps})\n")
    print(markdown_table(rows, list(rows[0])))
    return sum(not row["pass"] for row in rows)


def end_to_end_workloads(device: str):
    scenes = generate_scenes(8, seed=1)
    yield (
        "embedded SceneNet, 8 images, steps=32",
        load_scenenet().to(device),
        scenes.images.to(device),
        scenes.labels.to(device),
        32,
    )
    from idgi_fast.models.zoo import ZooUnavailable, build_model, check_zoo_available

    try:
        check_zoo_available()
    except ZooUnavailable:
        print("\n(torchvision is not usable here: no ResNet-50 workload)")
        return
    if device != "cuda":
        return
    torch.manual_seed(0)
    model = build_model("resnet50", None, device)
    yield (
        "ResNet-50 random weights, 16 images, steps=128",
        model,
        torch.rand(16, 3, 224, 224, device=device),
        torch.randint(0, 1000, (16,), device=device),
        128,
    )


def time_methods(report: dict, device: str, rounds: int, methods=METHODS) -> None:
    report["end_to_end"] = []
    for name, model, x, labels, steps in end_to_end_workloads(device):
        floor_seconds = timed(lambda: model_only_floor(model, x, labels, steps + 1, CHUNK), rounds)
        rows = [
            {
                "entry": "model-only floor",
                "seconds": floor_seconds,
                "× floor": 1.0,
                "images/s": x.shape[0] / floor_seconds,
            }
        ]
        for method in methods:
            for use_idgi in (False, True):
                backends = (["torch", "triton"] if device == "cuda" else ["torch"]) + (
                    ["reference"] if name.startswith("embedded") else []
                )
                for backend in backends:
                    if backend == "reference" and method in SLOW_REFERENCE and use_idgi is False:
                        continue  # its per-image Python loop costs the same with IDGI; time it once
                    seconds = timed(
                        lambda: explain(
                            model,
                            x,
                            target=labels,
                            method=method,
                            steps=steps,
                            idgi=use_idgi,
                            backend=backend,
                            batch_size=CHUNK,
                            graphs=False if backend != "reference" else None,
                        ),
                        rounds,
                    )
                    rows.append(
                        {
                            "entry": f"{method}{' + IDGI' if use_idgi else ''} [{backend}]",
                            "seconds": seconds,
                            "× floor": seconds / floor_seconds,
                            "images/s": x.shape[0] / seconds,
                        }
                    )
        report["end_to_end"].append({"workload": name, "rows": rows})
        print(f"\n## End to end: {name}, {CHUNK} points per model call (median of {rounds})\n")
        print(markdown_table(rows, list(rows[0])))


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
}


def check_metrics(report: dict, device: str, images: int, rounds: int) -> int:
    """Every backend on the device against the reference on the CPU, and timed against the floor."""
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
        want = evaluate(
            model_cpu,
            x,
            attributions,
            scenes.labels,
            backend="reference",
            show_progress=False,
            batch_size=batch,
            **options,
        )
        floor_seconds = timed(lambda: scoring_floor(model_dev, images_d, labels_d, per_image, batch), rounds)
        rows.append(
            {"metrics": group, "backend": "model-only floor", f"{device} s": floor_seconds, "× floor": 1.0}
        )
        for backend in backends:

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
            worst, same_nan = 0.0, True
            for key, values in want.per_image.items():
                other = got.per_image[key].double().cpu()
                same_nan &= bool(torch.equal(torch.isnan(values), torch.isnan(other)))
                both = ~torch.isnan(values) & ~torch.isnan(other)
                if both.any():
                    worst = max(worst, float((values[both] - other[both]).abs().max()))
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
    return failures


def check_family(report: dict, device: str, rounds: int) -> int:
    """Noise tunnel, GradientSHAP and XRAI on `device` against the CPU, with their timings."""
    model_cpu, model = load_scenenet(), load_scenenet().to(device)
    scenes = generate_scenes(4, seed=1)
    x_cpu, labels_cpu = scenes.images, scenes.labels
    x, labels = x_cpu.to(device), labels_cpu.to(device)
    noise = {"type": "smoothgrad_sq", "samples": 16, "stdev": 0.15, "seed": 0}
    rows, failures = [], 0

    def tunnel(m, images, targets):
        return explain(m, images, target=targets, steps=16, noise=noise, batch_size=CHUNK)

    want, got = tunnel(model_cpu, x_cpu, labels_cpu), tunnel(model, x, labels)
    gap = float(got.sample_completeness_gap(idgi=True).max())
    for kind in ("base", "idgi"):
        rel = relative_l2(getattr(got, kind).cpu(), getattr(want, kind))
        passed = rel <= 1e-3 and gap <= 1e-5
        failures += not passed
        rows.append({"check": f"SmoothGrad² IG {kind}, {device} vs CPU", "value": rel, "pass": passed})
    rows.append({"check": "largest sample IDGI gap", "value": gap, "pass": gap <= 1e-5})
    distribution = torch.cat([x_cpu[:3] * 0.3, torch.zeros_like(x_cpu[:1])])
    shap_want = gradient_shap(model_cpu, x_cpu, distribution, labels_cpu, samples=32, stdev=0.05)
    shap_got = gradient_shap(model, x, distribution.to(device), labels, samples=32, stdev=0.05)
    rel = relative_l2(shap_got.cpu(), shap_want)
    failures += rel > 1e-3
    rows.append({"check": f"gradient_shap, {device} vs CPU", "value": rel, "pass": rel <= 1e-3})
    floor = timed(lambda: model_only_floor(model, x, labels, 16 * 17, CHUNK), rounds)
    seconds = timed(lambda: tunnel(model, x, labels), rounds)
    rows.append({"check": "SmoothGrad² IG ± IDGI, 16 samples × 17 points: × floor", "value": seconds / floor})
    floor = timed(lambda: model_only_floor(model, x, labels, 32, CHUNK), rounds)
    seconds = timed(
        lambda: gradient_shap(model, x, distribution.to(device), labels, samples=32, stdev=0.05), rounds
    )
    rows.append({"check": "gradient_shap, 32 samples: × floor", "value": seconds / floor})
    try:
        from idgi_fast.xrai import segment_masks, xrai_regions
    except ImportError:
        segment_masks = None
    if segment_masks is not None:
        try:
            masks = segment_masks(x_cpu[0])
        except ImportError:
            masks = None
        if masks is not None:
            attribution = want.base[0].max(dim=0).values
            map_cpu, ranks_cpu = xrai_regions(attribution, masks)
            map_dev, ranks_dev = xrai_regions(attribution.to(device), masks.to(device))
            equal = torch.equal(ranks_dev.cpu(), ranks_cpu) and torch.allclose(map_dev.cpu(), map_cpu)
            failures += not equal
            rows.append(
                {
                    "check": f"XRAI selection, {device} vs CPU: same ranks and gains",
                    "value": 0.0,
                    "pass": equal,
                }
            )
            cpu_seconds = timed(lambda: xrai_regions(attribution, masks), rounds)
            dev_seconds = timed(lambda: xrai_regions(attribution.to(device), masks.to(device)), rounds)
            rows.append({"check": "XRAI selection seconds, CPU / device", "value": cpu_seconds / dev_seconds})
    report["family"] = rows
    print(f"\n## Noise tunnel, GradientSHAP, XRAI on {device} (4 scenes; median of {rounds})\n")
    print(markdown_table(rows, ["check", "value", "pass"]))
    return failures


def largest_difference(got: torch.Tensor, want: torch.Tensor) -> float:
    """max |got − want| / max |want| (docs/semantics.md §7's form), NaN counted as failure."""
    got, want = got.double().cpu(), want.double().cpu()
    return float((got - want).abs().max() / want.abs().max().clamp(min=1e-300))


def check_graphs(report: dict, device: str, rounds: int) -> int:
    """CUDA graphs (explain(graphs=...), evaluate(graphs=...)): equal results, captured, timed."""
    from floor import graphed_floor, scoring_floor

    from idgi_fast.graphs import CACHE, clear_graphs

    rows, failures = [], 0
    workloads = list(end_to_end_workloads(device))
    for name, model, x, labels, steps in workloads:
        clear_graphs()
        floor = timed(lambda: model_only_floor(model, x, labels, steps + 1, CHUNK), rounds)
        graphed = graphed_floor(model, x, labels, steps + 1, CHUNK)
        floor_graphed = timed(graphed, rounds)
        rows.append({"workload": name, "entry": "floor / floor as one graph per chunk", "off s": floor})
        rows[-1]["on s"] = floor_graphed
        for method in METHODS:
            options = dict(target=labels, method=method, steps=steps, idgi=True, batch_size=CHUNK)
            off = explain(model, x, graphs=False, **options)
            on = explain(model, x, graphs=True, **options)
            again = explain(model, x, graphs=True, **options)  # replayed from the cache
            captured = any(
                getattr(state, "call", None) is not None and state.call.captured
                for _, state in CACHE.entries.values()
            )
            error = max(
                largest_difference(result.attribution(idgi=idgi), off.attribution(idgi=idgi))
                for result in (on, again)
                for idgi in (False, True)
            )
            limit = 1e-3 if method == "guided_ig" else 1e-5
            passed = captured and error <= limit
            failures += not passed
            seconds_off = timed(lambda: explain(model, x, graphs=False, **options), rounds)
            seconds_on = timed(lambda: explain(model, x, graphs=True, **options), rounds)
            rows.append(
                {
                    "workload": name,
                    "entry": f"{method} + IDGI [triton]",
                    "off s": seconds_off,
                    "on s": seconds_on,
                    "off × floor": seconds_off / floor,
                    "on × floor": seconds_on / floor,
                    "on × graphed floor": seconds_on / floor_graphed,
                    "max diff": error,
                    "captured": captured,
                    "pass": passed,
                }
            )
    name, model, x, labels, _ = workloads[-1]
    saliency = torch.rand(x.shape[0], *x.shape[-2:], generator=torch.Generator().manual_seed(0)).to(device)
    for group in ("insertion + deletion", "SIC + AIC, MS-SSIM"):
        options, per_image = METRIC_GROUPS[group]
        found = {
            graphs: evaluate(model, x, saliency, labels, graphs=graphs, show_progress=False, **options)
            for graphs in (False, True)
        }
        error = max(
            float((found[True].per_image[key] - found[False].per_image[key]).abs().nan_to_num(0).max())
            for key in found[False].per_image
        )
        passed = error <= 1e-6
        failures += not passed
        floor = timed(lambda: scoring_floor(model, x, labels, per_image, CHUNK), rounds)
        seconds = {
            graphs: timed(
                lambda: evaluate(model, x, saliency, labels, graphs=graphs, show_progress=False, **options),
                rounds,
            )
            for graphs in (False, True)
        }
        rows.append(
            {
                "workload": name,
                "entry": f"metrics: {group} (× scoring floor)",
                "off s": seconds[False],
                "on s": seconds[True],
                "off × floor": seconds[False] / floor,
                "on × floor": seconds[True] / floor,
                "max diff": error,
                "pass": passed,
            }
        )
    try:
        import pytest  # noqa: F401

        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_graphs.py"],
            capture_output=True,
            text=True,
            env={**os.environ, "TRITON_INTERPRET": "0"},  # compiled kernels: conftest would interpret
        )
        summary = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr[-300:]
        rows.append(
            {"workload": "tests/test_graphs.py on CUDA", "entry": summary, "pass": tests.returncode == 0}
        )
        failures += tests.returncode != 0
        if tests.returncode:
            print(tests.stdout[-3000:])
    except ImportError:
        rows.append({"workload": "tests/test_graphs.py on CUDA", "entry": "pytest is not installed here"})
    report["graphs"] = rows
    print(f"\n## CUDA graphs off / on (median of {rounds}; the floors: eager and one graph per chunk)\n")
    print(markdown_table(rows, list(dict.fromkeys(k for row in rows for k in row))))
    return failures


def check_precision(report: dict, device: str, rounds: int) -> int:
    """explain(precision=...): each fast precision's error against fp32, per method, and its time."""
    rows = []
    for name, model, x, labels, steps in end_to_end_workloads(device):
        steps = min(steps, 32)
        for method in METHODS:
            options = dict(target=labels, method=method, steps=steps, idgi=True, batch_size=CHUNK)
            exact = explain(model, x, **options)
            exact_seconds = timed(lambda: explain(model, x, **options), rounds)

            def insertion(result):
                scored = evaluate(
                    model,
                    x,
                    result.idgi,
                    labels,
                    metrics=["insertion"],
                    show_progress=False,
                    batch_size=CHUNK,
                )
                return scored.per_image["insertion/probability"]

            exact_auc = insertion(exact)
            for precision in ("tf32", "bf16"):
                got = explain(model, x, precision=precision, **options)
                seconds = timed(lambda: explain(model, x, precision=precision, **options), rounds)
                auc_change = float((insertion(got) - exact_auc).abs().mean())
                rows.append(
                    {
                        "workload": f"{name.split(',')[0]}, steps={steps}",
                        "method": method,
                        "precision": precision,
                        "rel. L2 base": relative_l2(got.base, exact.base),
                        "rel. L2 IDGI": relative_l2(got.idgi, exact.idgi),
                        "IDGI gap": float(got.completeness_gap(idgi=True).max()),
                        "mean |Δ insertion AUC|": auc_change,
                        "fp32 insertion AUC": float(exact_auc.mean()),
                        "s": seconds,
                        "× fp32 time": seconds / exact_seconds,
                    }
                )
    report["precision"] = rows
    print(f"\n## precision= against fp32 (relative L2 of the attribution; median of {rounds})\n")
    print(markdown_table(rows, list(rows[0])))
    return 0


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
