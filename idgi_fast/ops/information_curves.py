"""Information curves op (docs/semantics.md §6): each image's SIC/AIC curve and AUC from its
per-level information and score values — the normalisations, the running maximum, the stable sort
by information, the interpolation on the 1001-point grid and the trapezoid — for many images at
once."""

from __future__ import annotations

import torch

from .backends import implementation
from .launches import declare


def normalised_curves_torch(x: torch.Tensor, y: torch.Tensor, points: int, zero_last: bool = False):
    """Curves (N, points + 1) and AUCs (N,) from float64 levels already normalised to [0, 1]:
    the running maximum of y, (0, 0) and (1, 1) added, a stable sort by x (ties keep level
    order), linear interpolation on the grid (the later point wins at a tie) and the trapezoid.
    (0, 0) comes before the levels, or after them when `zero_last` (PAIR's order: it decides
    which point wins a tie at x = 0)."""
    y = torch.cummax(y, dim=1).values
    rows = x.shape[0]
    zeros = torch.zeros((rows, 1), dtype=torch.float64, device=x.device)
    if zero_last:
        x = torch.cat([x, zeros, zeros + 1.0], dim=1)
        y = torch.cat([y, zeros, zeros + 1.0], dim=1)
    else:
        x = torch.cat([zeros, x, zeros + 1.0], dim=1)
        y = torch.cat([zeros, y, zeros + 1.0], dim=1)
    order = torch.sort(x, dim=1, stable=True).indices  # ties in x keep level order
    x, y = x.gather(1, order), y.gather(1, order)
    grid = (torch.arange(points, dtype=torch.float64, device=x.device) / points).expand(rows, -1).contiguous()
    right = torch.searchsorted(x, grid, right=True)  # the first point with x > q; x ends at 1 > q
    left = right - 1
    x_left, x_right, y_left, y_right = (
        x.gather(1, left),
        x.gather(1, right),
        y.gather(1, left),
        y.gather(1, right),
    )
    curve = torch.cat(
        [y_left + (grid - x_left) / (x_right - x_left) * (y_right - y_left), zeros + 1.0], dim=1
    )
    auc = (1.0 / points) * (curve.sum(dim=-1) - 0.5 * (curve[:, 0] + curve[:, -1]))
    return curve, auc


def information_curves_torch(
    x_levels: torch.Tensor,
    x_input: torch.Tensor,
    y_levels: torch.Tensor,
    y_input: torch.Tensor,
    normalise_x: bool,
    points: int,
    zero_last: bool = False,
):
    def normalised(values, ends):
        first = values[:, 0]
        return ((values - first[:, None]) / (ends - first)[:, None]).clamp(0.0, 1.0)

    x_levels, x_input, y_levels, y_input = (
        t.to(torch.float64) for t in (x_levels, x_input, y_levels, y_input)
    )
    x = normalised(x_levels, x_input) if normalise_x else x_levels.clamp(0.0, 1.0)
    return normalised_curves_torch(x, normalised(y_levels, y_input), points, zero_last)


# The kernel holds a curve's L + 2 points in one register block of LEVELS (a power of 2) and
# compares them all-pairs. LEVELS → (BLOCK, the grid points a program interpolates at a time;
# num_warps): with these a thread keeps at most 128 registers and spills none on sm_80 and sm_90,
# under Triton 3.6 and 3.9 (tests/ops/test_compiled.py); ptxas spilled 8 bytes at some neighbouring
# tiles (LEVELS 16 with 64 or 32 points and 4 warps), differently under each. Longer curves take
# the torch path: at LEVELS 128 ptxas had not finished one compile after 3 minutes.
CURVE_TILES = {4: (128, 4), 8: (128, 4), 16: (128, 8), 32: (64, 8)}
LARGEST_LEVELS = max(CURVE_TILES)


def kernel_levels(levels: int) -> int:
    """The kernel's LEVELS for curves of `levels` levels: their L + 2 points, rounded up to a power of 2."""
    return 1 << (levels + 1).bit_length()


def information_curves_triton(
    x_levels,
    x_input,
    y_levels,
    y_input,
    normalise_x: bool,
    points: int,
    zero_last: bool = False,
    block: int | None = None,
):
    """block: at most this many grid points a program (None: its CURVE_TILES entry). zero_last and
    curves of more than LARGEST_LEVELS − 2 levels are the torch path's only (information_curves
    never sends them here)."""
    if zero_last:
        raise ValueError("the Triton curves kernel puts (0, 0) first; zero_last runs on the torch path")
    if kernel_levels(x_levels.shape[1]) > LARGEST_LEVELS:
        raise ValueError(f"the Triton curves kernel takes at most {LARGEST_LEVELS - 2} levels")
    from ..kernels.information_curves import information_curve_kernel

    rows, levels = x_levels.shape
    grid_block, warps = CURVE_TILES[kernel_levels(levels)]
    curve = torch.empty((rows, points + 1), dtype=torch.float64, device=x_levels.device)
    auc = torch.empty(rows, dtype=torch.float64, device=x_levels.device)
    if rows:
        as_rows = lambda t: t.to(torch.float64).contiguous()  # noqa: E731
        information_curve_kernel[(rows,)](
            as_rows(x_levels),
            as_rows(x_input),
            as_rows(y_levels),
            as_rows(y_input),
            curve,
            auc,
            levels,
            points,
            NORMALISE_X=normalise_x,
            LEVELS=kernel_levels(levels),
            BLOCK=min(grid_block, block or grid_block),
            num_warps=warps,
        )
    return curve, auc


def triton_launches() -> list:
    """Every launch of this op's kernel (ops/launches.py): with and without normalised x, every
    LEVELS up to LARGEST_LEVELS."""
    from ..kernels.information_curves import information_curve_kernel

    launches = []
    for normalise_x in (False, True):
        for levels, (block, warps) in CURVE_TILES.items():
            launches += declare(
                information_curve_kernel,
                num_warps=warps,
                **dict.fromkeys(("x_levels_ptr", "x_input_ptr", "y_levels_ptr", "y_input_ptr"), "*fp64"),
                **dict.fromkeys(("curve_ptr", "auc_ptr"), "*fp64"),
                **dict.fromkeys(("n_levels", "points"), "i32"),
                NORMALISE_X=normalise_x,
                LEVELS=levels,
                BLOCK=block,
            )
    return launches


INFORMATION_CURVES = {"torch": information_curves_torch, "triton": information_curves_triton}


def information_curves(
    x_levels: torch.Tensor,
    x_input: torch.Tensor,
    y_levels: torch.Tensor,
    y_input: torch.Tensor,
    normalise_x: bool,
    points: int,
    backend: str = "torch",
    zero_last: bool = False,
):
    """Curves (N, points + 1) on q = 0, 1/points, …, 1 and their AUCs (N,), float64, from (N, L)
    information values x and scores y of the levels (level 0 = the canvas) and the inputs' (N,).
    x is normalised between canvas and input when normalise_x, else only clipped to [0, 1].
    zero_last: PAIR's point order (normalised_curves_torch), on the torch path on every backend
    (only the pair profile, whose few curves per image cost nothing beside its interpolations)."""
    fits = not zero_last and kernel_levels(x_levels.shape[1]) <= LARGEST_LEVELS
    curves = implementation(INFORMATION_CURVES, backend, applies=fits)
    return curves(x_levels, x_input, y_levels, y_input, normalise_x, points, zero_last)
