"""Triton kernel of the information curves op (ops/information_curves.py)."""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _maximum(a, b):
    return tl.maximum(a, b)


@triton.jit(do_not_specialize=["n_levels", "points"])
def information_curve_kernel(
    x_levels_ptr,
    x_input_ptr,
    y_levels_ptr,
    y_input_ptr,
    curve_ptr,
    auc_ptr,
    n_levels,
    points,
    NORMALISE_X: tl.constexpr,
    LEVELS: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Program b: image b's SIC/AIC curve and its AUC from its per-level values (docs/semantics.md §6).

        x = (x_l − x_0)/(x_input − x_0) clipped to [0, 1]   (or x_l clipped, without NORMALISE_X)
        y = running max over l of (y_l − y_0)/(y_input − y_0) clipped to [0, 1]
        points (0, 0), (x_l, y_l) for l = 0 … L − 1, (1, 1), stably sorted by x (ties keep
        level order); curve[b, p] = the linear interpolation at q = p/points, p < points, where
        the segment ends at the first point with x > q; curve[b, points] = 1;
        auc[b] = trapezoid of the curve with dx = 1/points.

    The L + 2 points live in one LEVELS-wide register block: their stable ranks come from an
    all-pairs comparison, and the grid is searched BLOCK points at a time. Rows that a skip rule
    drops still compute (possibly NaN) values; the launcher overwrites them.
    """
    row = tl.program_id(0).to(tl.int64)
    index = tl.arange(0, LEVELS)
    level = index - 1  # point i holds level i − 1; point 0 is (0, 0), point L + 1 is (1, 1)
    is_level = (level >= 0) & (level < n_levels)
    x_raw = tl.load(x_levels_ptr + row * n_levels + level, mask=is_level, other=0.0)
    y_raw = tl.load(y_levels_ptr + row * n_levels + level, mask=is_level, other=0.0)
    x_first = tl.load(x_levels_ptr + row * n_levels)
    y_first = tl.load(y_levels_ptr + row * n_levels)
    if NORMALISE_X:
        x_raw = (x_raw - x_first) / (tl.load(x_input_ptr + row) - x_first)
    y_raw = (y_raw - y_first) / (tl.load(y_input_ptr + row) - y_first)
    x_raw = tl.minimum(tl.maximum(x_raw, 0.0), 1.0)
    y_raw = tl.minimum(tl.maximum(y_raw, 0.0), 1.0)
    last = n_levels + 1
    x = tl.where(is_level, x_raw, tl.where(index == 0, 0.0, tl.where(index == last, 1.0, float("inf"))))
    y = tl.where(is_level, y_raw, tl.where(index == last, 1.0, 0.0))
    y = tl.associative_scan(y, 0, _maximum)  # running max over levels; (1, 1) stays 1 as every y ≤ 1
    # stable rank of each point: smaller x first, then the lower index among equal x
    x_other = x[None, :]
    before = (x_other < x[:, None]) | ((x_other == x[:, None]) & (index[None, :] < index[:, None]))
    rank = tl.sum(before.to(tl.int32), axis=1)
    sorted_x = tl.sum(tl.where(rank[None, :] == index[:, None], x[None, :], 0.0), axis=1)
    sorted_y = tl.sum(tl.where(rank[None, :] == index[:, None], y[None, :], 0.0), axis=1)
    total = tl.sum(tl.zeros([BLOCK], dtype=tl.float64), axis=0)
    first = total
    for start in range(0, points, BLOCK):
        p = start + tl.arange(0, BLOCK)
        inside = p < points
        q = p.to(tl.float64) / points
        right = tl.sum((sorted_x[None, :] <= q[:, None]).to(tl.int32), axis=1)  # first point with x > q
        left = right - 1
        pick_right = right[:, None] == index[None, :]
        pick_left = left[:, None] == index[None, :]
        x_right = tl.sum(tl.where(pick_right, sorted_x[None, :], 0.0), axis=1)
        x_left = tl.sum(tl.where(pick_left, sorted_x[None, :], 0.0), axis=1)
        y_right = tl.sum(tl.where(pick_right, sorted_y[None, :], 0.0), axis=1)
        y_left = tl.sum(tl.where(pick_left, sorted_y[None, :], 0.0), axis=1)
        curve = y_left + (q - x_left) / (x_right - x_left) * (y_right - y_left)
        tl.store(curve_ptr + row * (points + 1) + p, curve, mask=inside)
        total += tl.sum(tl.where(inside, curve, 0.0), axis=0)
        if start == 0:
            first = tl.sum(tl.where(p == 0, curve, 0.0), axis=0)
    tl.store(curve_ptr + row * (points + 1) + points, 1.0)
    total += 1.0
    step = 1.0 / points.to(tl.float64)  # a Python float literal would make it float32
    tl.store(auc_ptr + row, step * (total - 0.5 * (first + 1.0)))
