"""Accumulate op: fold one chunk of path gradients into the attribution accumulators.

For a chunk of N points (each belonging to one image) with gradients g (N, D):

    norms[p]        = Σ_d g[p, d]²                                       (squared_norms)
    base[c, b, :]  += Σ_{p of image b} base_coef[p, c] · multiplier[p, :] · g[p, :]
    idgi[c, b, :]  += Σ_{p of image b} idgi_coef[p, c] · g[p, :]²          (accumulate)

c runs over the requested step counts (every `compute_at` count in the same pass); the
multiplier is dX for Blur IG and absent (1) for IG. The coefficients are computed by the
engine from the norms and the path's outputs, so the op itself is pure arithmetic.
"""

from __future__ import annotations

import functools
import itertools

import torch

from .backends import implementation
from .launches import declare, pointer


def idgi_scales(change: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """IDGI's coefficient of each point (docs/semantics.md §2): ΔF / Σg², and 0 where Σg² is 0 or
    not finite, so that such a step contributes nothing and never a NaN. Same shape as `change`."""
    usable = torch.isfinite(norms) & (norms > 0)
    return torch.where(usable, change / torch.where(usable, norms, 1.0), 0.0)


def squared_norms_torch(g: torch.Tensor) -> torch.Tensor:
    return g.flatten(1).pow(2).sum(dim=1)


def accumulate_torch(
    g: torch.Tensor,
    multiplier: torch.Tensor | None,
    base_coef: torch.Tensor,
    idgi_coef: torch.Tensor | None,
    images: torch.Tensor,
    base: torch.Tensor,
    idgi: torch.Tensor | None,
) -> None:
    counts, batch = base.shape[0], base.shape[1]
    flat = g.flatten(1)
    weighted = flat if multiplier is None else flat * multiplier.flatten(1)
    # one (N × counts·B) matrix of coefficients per accumulator: a single GEMM folds every count
    # (N, B) ownership by comparison, not one_hot, which checks its indices on the host
    owner = (images[:, None] == torch.arange(batch, device=images.device)).to(g.dtype)
    spread = (base_coef[:, :, None] * owner[:, None, :]).reshape(len(images), counts * batch)
    base.view(counts * batch, -1).add_(spread.T @ weighted)
    if idgi is not None:
        spread = (idgi_coef[:, :, None] * owner[:, None, :]).reshape(len(images), counts * batch)
        idgi.view(counts * batch, -1).add_(spread.T @ (flat * flat))


def _triton_float(dtype: torch.dtype):
    import triton.language as tl

    return tl.float64 if dtype == torch.float64 else tl.float32


# (BLOCK, COUNT_TILE, num_warps) tried by triton.autotune for the accumulate kernel. The first is
# the only one under the interpreter, which cannot time configurations: 4 counts a tile there
# keep the interpreted loop over count tiles as short as the kernel's was before counts were
# tiled. Each
# element's sum runs over the same points in the same order whatever the tile, so the choice
# never changes a result. Every tile keeps a thread's COUNT_TILE × BLOCK / threads sums of both
# accumulators in at most 128 registers, without spilling, on sm_80 and sm_90 (the suite compiles
# them: tests/ops/test_compiled.py). The squared norms keep one tile: their reduction order
# follows the tile, and a per-process timing choice would make two runs differ in the last bits.
ACCUMULATE_TILES = ((1024, 4, 16), (1024, 1, 4), (2048, 1, 8), (512, 2, 4), (512, 1, 4))
NORM_TILE = (4096, 4)  # (BLOCK, num_warps) of the squared norms


@functools.cache
def _tuned_accumulate_kernel():
    import triton

    from ..kernels.accumulate import accumulate_kernel
    from .backends import interpreting

    def first_when_interpreting(configs, named_args, **kwargs):
        return configs[:1] if interpreting() else configs

    configs = [
        triton.Config({"BLOCK": block, "COUNT_TILE": count_tile}, num_warps=warps)
        for block, count_tile, warps in ACCUMULATE_TILES
    ]
    return triton.autotune(
        configs,
        key=["n_features", "n_counts", "n_images"],
        restore_value=["base_ptr", "idgi_ptr"],  # timing runs add into them: put them back
        prune_configs_by={"early_config_prune": first_when_interpreting},
    )(accumulate_kernel)


def squared_norms_triton(
    g: torch.Tensor, block: int = NORM_TILE[0], num_warps: int = NORM_TILE[1]
) -> torch.Tensor:
    import triton

    from ..kernels.accumulate import squared_norm_partials_kernel

    flat = g.reshape(g.shape[0], -1).contiguous()
    n_points, n_features = flat.shape
    n_blocks = triton.cdiv(n_features, block)
    partials = torch.empty((n_points, n_blocks), dtype=g.dtype, device=g.device)
    squared_norm_partials_kernel[(n_points, n_blocks)](
        flat, partials, n_features, n_blocks, ACC=_triton_float(g.dtype), BLOCK=block, num_warps=num_warps
    )
    return partials.sum(dim=1)


def accumulate_triton(
    g,
    multiplier,
    base_coef,
    idgi_coef,
    images,
    base,
    idgi,
    block: int | None = None,
    num_warps: int = 4,
    count_tile: int = 1,
) -> None:
    """block None: autotuned over ACCUMULATE_TILES per (feature count, counts, images); else that
    tile (tests and benchmarks)."""
    import triton

    from ..kernels.accumulate import accumulate_kernel

    flat = g.reshape(g.shape[0], -1).contiguous()
    n_points, n_features = flat.shape
    counts, batch = base.shape[0], base.shape[1]
    if not (base.is_contiguous() and (idgi is None or idgi.is_contiguous())):
        raise ValueError("accumulators must be contiguous")
    # the points of image b are order[segment_start[b] : segment_start[b + 1]] (none when b is
    # absent from this chunk); the kernel visits them through `order`, so g is never copied. One
    # program row per image, whatever the chunk holds, keeps the launch free of host syncs (a CUDA
    # graph captures it), and three ops prepare it.
    owners, order = torch.sort(images, stable=True)
    segment_start = torch.searchsorted(owners, torch.arange(batch + 1, device=g.device))
    mult = flat if multiplier is None else multiplier.reshape(n_points, -1).contiguous()
    idgi_coef_ = base_coef if idgi_coef is None else idgi_coef
    if block is None:
        kernel, tile = _tuned_accumulate_kernel(), {}
        grid = lambda meta: (batch, triton.cdiv(n_features, meta["BLOCK"]))  # noqa: E731
    else:
        kernel, tile = accumulate_kernel, dict(BLOCK=block, COUNT_TILE=count_tile, num_warps=num_warps)
        grid = (batch, triton.cdiv(n_features, block))
    kernel[grid](
        flat,
        mult,
        base_coef.contiguous(),
        idgi_coef_.contiguous(),
        order,
        segment_start,
        base,
        base if idgi is None else idgi,
        n_features,
        counts,
        batch,
        HAS_MULTIPLIER=multiplier is not None,
        HAS_IDGI=idgi is not None,
        ACC=_triton_float(g.dtype),
        **tile,
    )


def triton_launches() -> list:
    """Every launch of this op's kernels (ops/launches.py): both float types, every flag, every
    autotuned tile."""
    from ..kernels.accumulate import accumulate_kernel, squared_norm_partials_kernel

    launches = []
    for dtype in (torch.float32, torch.float64):
        p, acc = pointer(dtype), _triton_float(dtype)
        block, warps = NORM_TILE
        launches += declare(
            squared_norm_partials_kernel,
            num_warps=warps,
            g_ptr=p,
            partial_ptr=p,
            n_features="i32",
            n_blocks="i32",
            ACC=acc,
            BLOCK=block,
        )
        for has_multiplier, has_idgi, (block, count_tile, warps) in itertools.product(
            (False, True), (False, True), ACCUMULATE_TILES
        ):
            launches += declare(
                accumulate_kernel,
                num_warps=warps,
                **dict.fromkeys(("g_ptr", "multiplier_ptr", "base_coef_ptr", "idgi_coef_ptr"), p),
                **dict.fromkeys(("order_ptr", "segment_start_ptr"), "*i64"),
                **dict.fromkeys(("base_ptr", "idgi_ptr"), p),
                **dict.fromkeys(("n_features", "n_counts", "n_images"), "i32"),
                HAS_MULTIPLIER=has_multiplier,
                HAS_IDGI=has_idgi,
                COUNT_TILE=count_tile,
                ACC=acc,
                BLOCK=block,
            )
    return launches


SQUARED_NORMS = {"torch": squared_norms_torch, "triton": squared_norms_triton}
ACCUMULATE = {"torch": accumulate_torch, "triton": accumulate_triton}


def squared_norms(g: torch.Tensor, backend: str = "torch") -> torch.Tensor:
    """(N,) Σ g² of each point's gradient, in g's dtype."""
    return implementation(SQUARED_NORMS, backend)(g)


def accumulate(g, multiplier, base_coef, idgi_coef, images, base, idgi, backend: str = "torch") -> None:
    """Add one chunk into `base` (counts, B, …) and `idgi` (same shape, or None) in place."""
    implementation(ACCUMULATE, backend)(g, multiplier, base_coef, idgi_coef, images, base, idgi)
