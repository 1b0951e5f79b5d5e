"""Linear imputation op: ROAD's noiseless imputation (docs/metrics.md §15) of many images at once.

Every removed pixel's value is the weighted mean of its in-image neighbours (1/6 edge, 1/12
diagonal), kept pixels fixed: per channel the symmetric positive definite system
A·e = b over the removed pixels, A = D − W restricted to them. Solved by conjugate gradients
preconditioned with one geometric multigrid V-cycle (damped Jacobi, 2×2 sum restriction,
piecewise constant prolongation; a coarse cell is unknown when its four fine cells are), in
float64 to a relative residual of `TOLERANCE`:

- torch: the whole batch as (S·C, H, W) planes, shifted adds for the stencil — any device;
- triton: the same solver with the stencil and each Jacobi sweep one kernel pass
  (kernels/linear_imputation.py) — CUDA, or the CPU under the interpreter;
- native: csrc/linear_imputation.cpp, one system per thread with its data in cache.
Both return the images with the removed pixels filled, float64. The reference solves each image
alone with plain CG on the explicit sparse matrix (reference/metrics/road.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import native
from .backends import implementation
from .launches import declare

TOLERANCE = 1e-12  # relative residual ‖b − A·e‖ / ‖b‖ of every (system, channel)
MAX_ITERATIONS = 500
ACCEPTED = 1e-9  # a system that stalls between TOLERANCE and this after MAX_ITERATIONS is kept
EDGE, DIAGONAL = 1.0 / 6.0, 1.0 / 12.0
_DAMPING, _COARSEST, _COARSE_SWEEPS = 0.9, 8, 30
_TILE = (16, 64, 8)  # the Triton kernel's (rows, columns, warps) a program: ≤ 128 registers a thread


def _neighbours(v: torch.Tensor) -> torch.Tensor:
    """Σ_j w_j v_j over the 8 neighbours of every cell of (N, H, W), zeros outside the grid."""
    p = F.pad(v, (1, 1, 1, 1))
    height, width = v.shape[-2:]
    rows = p[:, :, 1 : width + 1]
    edge = rows[:, 0:height] + rows[:, 2 : height + 2] + p[:, 1 : height + 1, 0:width]
    edge = edge + p[:, 1 : height + 1, 2 : width + 2]
    sides = p[:, :, 0:width] + p[:, :, 2 : width + 2]
    diagonal = sides[:, 0:height] + sides[:, 2 : height + 2]
    return EDGE * edge + DIAGONAL * diagonal


class _Level:
    """One grid: A·v and damped Jacobi sweeps in torch, or (kernel) through the Triton kernel."""

    def __init__(self, unknown: torch.Tensor, kernel: bool):
        self.unknown = unknown.to(torch.float64)  # (N, H, W), 1 where the value is solved for
        ones = torch.ones_like(self.unknown[:1])
        self.diagonal = _neighbours(ones)  # Σ of the in-grid neighbours' weights, (1, H, W)
        self.inverse = self.unknown / self.diagonal
        self.kernel = kernel

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        """A·v on the unknown cells (v is 0 elsewhere)."""
        if self.kernel:
            return _stencil_triton(v, None, self)
        return self.unknown * (self.diagonal * v - _neighbours(v))

    def smooth(self, error: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
        if self.kernel:
            return _stencil_triton(error, rhs, self)
        return error + _DAMPING * self.inverse * (rhs - self.apply(error))


def _stencil_triton(v: torch.Tensor, rhs: torch.Tensor | None, level: _Level) -> torch.Tensor:
    from ..kernels.linear_imputation import masked_stencil_kernel

    v = v.contiguous()
    out = torch.empty_like(v)
    planes, height, width = v.shape
    grid = (planes, -(-height // _TILE[0]), -(-width // _TILE[1]))
    masked_stencil_kernel[grid](
        v,
        v if rhs is None else rhs.contiguous(),
        level.unknown,
        level.diagonal,
        out,
        height,
        width,
        _DAMPING,
        JACOBI=rhs is not None,
        BLOCK_H=_TILE[0],
        BLOCK_W=_TILE[1],
        num_warps=_TILE[2],
    )
    return out


def _hierarchy(unknown: torch.Tensor, kernel: bool = False) -> list[_Level]:
    levels = [_Level(unknown, kernel)]
    while min(unknown.shape[-2:]) > _COARSEST:
        height, width = unknown.shape[-2:]
        padded = F.pad(unknown.to(torch.float32), (0, width % 2, 0, height % 2))  # padding: not unknown
        coarse = -F.max_pool2d(-padded[:, None], 2)[:, 0] > 0.5  # unknown when all four cells are
        if not bool(coarse.any()):
            break
        levels.append(_Level(coarse, kernel))
        unknown = coarse
    return levels


def _v_cycle(levels: list[_Level], rhs: torch.Tensor, index: int = 0) -> torch.Tensor:
    level = levels[index]
    error = _DAMPING * level.inverse * rhs
    if index + 1 == len(levels):
        for _ in range(_COARSE_SWEEPS - 1):
            error = level.smooth(error, rhs)
        return error
    height, width = rhs.shape[-2:]
    residual = F.pad(rhs - level.apply(error), (0, width % 2, 0, height % 2))
    coarse = levels[index + 1]
    coarse_rhs = 4.0 * F.avg_pool2d(residual[:, None], 2)[:, 0] * coarse.unknown
    correction = _v_cycle(levels, coarse_rhs, index + 1)
    fine = correction.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)[:, :height, :width]
    error = error + level.unknown * fine
    return level.smooth(error, rhs)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(dim=(-2, -1), keepdim=True)


def _conjugate_gradients(levels: list[_Level], b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Preconditioned CG on every plane at once; a plane stops moving once it has converged."""
    norm_b = b.flatten(1).norm(dim=1)
    solution, residual = torch.zeros_like(b), b.clone()
    z = _v_cycle(levels, residual)
    direction, rz = z, _dot(residual, z)
    relative = torch.zeros_like(norm_b)
    for _ in range(MAX_ITERATIONS):
        product = levels[0].apply(direction)
        curvature = _dot(direction, product)
        active = (curvature > 0).to(b.dtype)  # converged planes (zero direction) stay where they are
        alpha = active * rz / torch.where(curvature > 0, curvature, torch.ones_like(curvature))
        solution = solution + alpha * direction
        residual = residual - alpha * product
        relative = residual.flatten(1).norm(dim=1) / torch.where(norm_b > 0, norm_b, torch.ones_like(norm_b))
        if bool((relative <= TOLERANCE).all()):
            break
        z = _v_cycle(levels, residual)
        rz_next = _dot(residual, z)
        beta = torch.where(
            rz > 0, rz_next / torch.where(rz > 0, rz, torch.ones_like(rz)), torch.zeros_like(rz)
        )
        direction, rz = z + beta * direction, rz_next
    return solution, relative


def _impute(images: torch.Tensor, removed: torch.Tensor, kernel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The multigrid-preconditioned CG of every plane, its stencil passes in torch or (kernel) Triton."""
    systems, channels, height, width = images.shape
    planes = images.to(torch.float64).reshape(systems * channels, height, width)
    unknown = removed.repeat_interleave(channels, dim=0)
    levels = _hierarchy(unknown, kernel)
    known = planes * (1.0 - levels[0].unknown)
    solution, relative = _conjugate_gradients(levels, levels[0].unknown * _neighbours(known))
    filled = known + solution
    return filled.view(systems, channels, height, width), relative.view(systems, channels)


def linear_imputation_torch(images: torch.Tensor, removed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _impute(images, removed, kernel=False)


def linear_imputation_native(
    images: torch.Tensor, removed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return native.library().linear_imputation(
        images.to(torch.float64), removed.to(torch.bool), TOLERANCE, MAX_ITERATIONS
    )


def linear_imputation_triton(
    images: torch.Tensor, removed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    return _impute(images, removed, kernel=True)


def triton_launches() -> list:
    """Every launch of this op's kernel (ops/launches.py): the stencil and the Jacobi sweep."""
    from ..kernels.linear_imputation import masked_stencil_kernel

    launches = []
    for jacobi in (False, True):
        launches += declare(
            masked_stencil_kernel,
            num_warps=_TILE[2],
            **dict.fromkeys(("v_ptr", "rhs_ptr", "unknown_ptr", "diagonal_ptr", "out_ptr"), "*fp64"),
            **dict.fromkeys(("height", "width"), "i32"),
            damping="fp32",
            JACOBI=jacobi,
            BLOCK_H=_TILE[0],
            BLOCK_W=_TILE[1],
        )
    return launches


LINEAR_IMPUTATION = {
    "torch": linear_imputation_torch,
    "triton": linear_imputation_triton,
    "native": linear_imputation_native,
}


def linear_imputation(images: torch.Tensor, removed: torch.Tensor, backend: str = "torch") -> torch.Tensor:
    """(S, C, H, W) images with the pixels `removed` (S, H, W) bool imputed, float64 on the images'
    device. Raises when a system ends above ACCEPTED (it is positive definite, so only a
    non-finite image does that)."""
    run = implementation(
        LINEAR_IMPUTATION, backend, applies=backend != "native" or images.device.type == "cpu"
    )
    filled, relative = run(images, removed)
    worst = float(relative.max()) if relative.numel() else 0.0
    if not worst <= ACCEPTED:
        raise RuntimeError(
            f"linear imputation did not converge (relative residual {worst:.3g} > {ACCEPTED:g} "
            f"after {MAX_ITERATIONS} iterations); are the images finite?"
        )
    return filled
