"""GPU check, section "kernels": every Triton kernel against its op's torch implementation on
odd sizes, with the caching allocator poisoned by NaN first, and its time against copy bandwidth."""

from __future__ import annotations

import torch

from bench.timing import graphed_seconds, poison_allocator, timed
from idgi_fast.metrics.information import msssim_of_levels
from idgi_fast.ops import accumulate as acc
from idgi_fast.ops import blur_path as blur
from idgi_fast.ops import composite as comp
from idgi_fast.ops import guided_step as guided
from idgi_fast.ops import information_curves as curves
from idgi_fast.ops import target_probabilities as probabilities
from idgi_fast.reference.metrics.common import level_counts, pixel_ranks
from idgi_fast.reference.metrics.information import msssim
from idgi_fast.utils.tables import markdown_table

COLUMNS = [
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
]


class KernelRows(list):
    """The section's table: one row per kernel and shape, its error against the limit and its time."""

    def __init__(self, copy_gbps: float):
        super().__init__()
        self.copy_gbps = copy_gbps

    def add(self, name, shape, error, limit, seconds, nbytes) -> None:
        finite_ok = error == error  # NaN never passes
        self.append(
            {
                "kernel": name,
                "shape": shape,
                "max error": error,
                "limit": limit,
                "pass": bool(finite_ok and error <= limit),
                "ms": seconds * 1e3,
                "GB/s": nbytes / seconds / 1e9 if nbytes else float("nan"),
                "% of copy": 100 * nbytes / seconds / 1e9 / self.copy_gbps if nbytes else float("nan"),
            }
        )

    def add_device_time(self, fn, nbytes) -> None:
        """The last row's kernel again, timed on the device alone (graphed_seconds)."""
        seconds = graphed_seconds(fn)
        self[-1]["device ms"] = seconds * 1e3
        self[-1]["% of copy (device)"] = 100 * nbytes / seconds / 1e9 / self.copy_gbps


def check_kernels(report: dict, device: str, rounds: int, copy_gbps: float) -> int:
    rows = KernelRows(copy_gbps)
    gen = torch.Generator(device=device).manual_seed(0)
    on_gpu = device == "cuda"  # a CPU dry run interprets the kernels: small shapes only, no timings
    for section in (
        _accumulate_rows,
        _accumulate_tile_rows,
        _blur_rows,
        _selection_rows,
        _guided_step_rows,
        _composite_rows,
        _rescoring_rows,
        _curve_rows,
        _msssim_rows,
    ):
        section(rows, device, gen, rounds, on_gpu)
    report["kernels"] = list(rows)
    print("\n## Triton kernels against their torch implementations (compiled; allocator poisoned with NaN)\n")
    print(
        "Timing rows: GB/s counts the bytes each kernel must read and write; guided selection reads the row "
        "16 times (one radix pass per 4-bit digit).\n"
    )
    print(markdown_table(rows, COLUMNS))
    return sum(not row["pass"] for row in rows)


def _accumulate_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """Accumulate and squared norms against torch, float32 and float64."""
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
        rows.add(
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
        rows.add(f"squared norms {str(dtype)[6:]}", "67×3×37×53", error, 1e-6, 0, 0)


def _accumulate_tile_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """Every autotune tile of the accumulate kernel, and squared norms' tiles, timed on a card."""
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
        for block, count_tile, warps in acc.ACCUMULATE_TILES:
            tile = dict(block=block, num_warps=warps, count_tile=count_tile)

            def run_tile(tile=tile):
                acc.accumulate_triton(g, None, coef, coef, images, base, idgi, **tile)

            seconds = timed(run_tile, rounds * 10)
            nbytes = g.numel() * 4 + 2 * 2 * base.numel() * 4
            rows.add(
                f"accumulate float32, BLOCK {block}, COUNT_TILE {count_tile}, {warps} warps",
                "64 points → 16 images, 3×224²",
                0.0,
                1.0,
                seconds,
                nbytes,
            )
            rows[-1]["torch ms"] = torch_ms
            rows.add_device_time(run_tile, nbytes)
            rows[-1]["torch device ms"] = (
                graphed_seconds(lambda: acc.accumulate_torch(g, None, coef, coef, images, base, idgi)) * 1e3
            )
        torch_ms = timed(lambda: acc.squared_norms_torch(g), rounds * 10) * 1e3
        for block, warps in ((4096, 4), (4096, 8), (8192, 8), (1024, 4)):
            seconds = timed(lambda: acc.squared_norms_triton(g, block=block, num_warps=warps), rounds * 10)
            rows.add(
                f"squared norms float32, BLOCK {block}, {warps} warps",
                "64×3×224²",
                0.0,
                1.0,
                seconds,
                g.numel() * 4,
            )
            rows[-1]["torch ms"] = torch_ms
            rows.add_device_time(
                lambda: acc.squared_norms_triton(g, block=block, num_warps=warps), g.numel() * 4
            )
            rows[-1]["torch device ms"] = graphed_seconds(lambda: acc.squared_norms_torch(g)) * 1e3


def _blur_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The blur path kernel, both paddings."""
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
            rows.add(
                f"blur path {padding}", "×".join(map(str, shape)), error, 1e-6, seconds or float("nan"), 0
            )
            if seconds:
                rows[-1]["torch ms"] = timed(lambda: blur.blur_path_torch(x, s, 0.01, padding), rounds) * 1e3


def _selection_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The radix-select threshold kernel against torch.kthvalue's."""
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
        rows.add(
            "guided selection", f"{n_rows}×{n}", error, 0.0, seconds or float("nan"), 16 * score.numel() * 8
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: guided.selection_threshold_torch(score, 0.25), rounds * 10) * 1e3
            )


def _guided_step_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The Guided IG step kernels (every selection) against the torch step."""
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
        rows.add(
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
            rows.add(
                f"guided step, selection {selection}",
                f"{n_rows}×{n}",
                error,
                1e-9,
                seconds or float("nan"),
                0,
            )


def _composite_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """Composited insertion/bokeh images, bit-identical to torch's."""
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
        rows.add(
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


def _rescoring_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """The target probability and argmax of many logits."""
    for n_rows, classes in ((7, 5), (400, 1000)):
        logits = torch.randn(n_rows, classes, generator=gen, device=device) * 4
        targets = torch.randint(0, classes, (n_rows,), generator=gen, device=device)
        want_p, want_c = probabilities.target_probabilities_torch(logits, targets)
        poison_allocator(device)
        got_p, got_c = probabilities.target_probabilities_triton(logits, targets)
        error = float((got_p - want_p).abs().max()) if torch.equal(got_c, want_c) else float("inf")
        seconds = (
            timed(lambda: probabilities.target_probabilities_triton(logits, targets), rounds * 10)
            if n_rows > 100 and on_gpu
            else 0
        )
        rows.add(
            "rescoring (target probability, argmax)",
            f"{n_rows}×{classes}",
            error,
            1e-12,
            seconds or float("nan"),
            logits.numel() * 4 + n_rows * 24,
        )
        if seconds:
            rows[-1]["torch ms"] = (
                timed(lambda: probabilities.target_probabilities_torch(logits, targets), rounds * 10) * 1e3
            )


def _curve_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """SIC/AIC curves and AUCs."""
    for n_rows, levels in ((6, 9), (64, 25)):
        x_levels = torch.rand(n_rows, levels, generator=gen, device=device, dtype=torch.float64) * 1.2 - 0.1
        x_levels[0, 3:6] = 0.5  # ties
        y_levels = torch.rand(n_rows, levels, generator=gen, device=device, dtype=torch.float64) * 0.7
        ends = torch.full((n_rows,), 1.1, dtype=torch.float64, device=device)
        want_curve, want_auc = curves.information_curves_torch(
            x_levels, ends, y_levels, ends - 0.2, True, 1000
        )
        poison_allocator(device)
        got_curve, got_auc = curves.information_curves_triton(
            x_levels, ends, y_levels, ends - 0.2, True, 1000
        )
        error = max(float((got_curve - want_curve).abs().max()), float((got_auc - want_auc).abs().max()))
        seconds = (
            timed(
                lambda: curves.information_curves_triton(x_levels, ends, y_levels, ends - 0.2, True, 1000),
                rounds * 10,
            )
            if n_rows > 10 and on_gpu
            else 0
        )
        rows.add(
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
                    lambda: curves.information_curves_torch(x_levels, ends, y_levels, ends - 0.2, True, 1000),
                    rounds * 10,
                )
                * 1e3
            )


def _msssim_rows(rows: KernelRows, device: str, gen, rounds: int, on_gpu: bool) -> None:
    """MS-SSIM of many levels against one level at a time."""
    for n_images, side, win, scales in ((2, (23, 19), 3, 2), (4, (224, 224), 11, 5)):
        if side[0] > 100 and not on_gpu:
            continue
        references = torch.rand(n_images, 3, *side, generator=gen, device=device)
        levels = (
            references[:, None] + 0.3 * torch.rand(n_images, 5, 3, *side, generator=gen, device=device)
        ).clamp(0, 1)
        want = torch.stack(
            [
                msssim(levels[i], references[i : i + 1].expand_as(levels[i]), win, scales)
                for i in range(n_images)
            ]
        )
        got = msssim_of_levels(levels, references, win, scales)
        seconds = (
            timed(lambda: msssim_of_levels(levels, references, win, scales), rounds) if side[0] > 100 else 0
        )
        rows.add(
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
                        msssim(levels[i], references[i : i + 1].expand_as(levels[i]), win, scales)
                        for i in range(n_images)
                    ],
                    rounds,
                )
                * 1e3
            )
