"""accumulate and squared_norms (idgi_fast/ops/accumulate.py): one chunk of 64 path points of
3×224² into one count's base and IDGI sums over 8 images, and the points' squared norms."""

from __future__ import annotations

import torch

from bench.ops import KernelRows, OpCase, speed_test
from bench.timing import graphed_seconds, poison_allocator, timed
from idgi_fast.ops import accumulate as acc


def cases(device: str, generator: torch.Generator) -> list[OpCase]:
    g = torch.randn(64, 3, 224, 224, generator=generator, device=device)
    multiplier = torch.randn_like(g)
    images = torch.arange(64, device=device) % 8
    coef = torch.randn(64, 1, generator=generator, device=device)
    scale = torch.randn_like(coef)
    base = torch.zeros(1, 8, 3, 224, 224, device=device)
    idgi = torch.zeros_like(base)
    return [
        OpCase(
            "accumulate",
            "64×3×224×224 → 1×8",
            torch.float32,
            lambda fn: fn(g, multiplier, coef, scale, images, base, idgi),
        ),
        OpCase("squared_norms", "64×3×224×224", torch.float32, lambda fn: fn(g)),
    ]


test_speed = speed_test(cases)


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


# the GPU check's correctness rows of this op's Triton kernels, in order
CHECKS = (
    _accumulate_rows,
    _accumulate_tile_rows,
)
