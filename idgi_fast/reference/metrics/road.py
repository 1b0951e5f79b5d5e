"""ROAD, Remove And Debias (docs/metrics.md §15), one image at a time.

For each removal percentage p the ⌊H·W·p/100⌋ most (MoRF) or least (LeRF) salient pixels are
removed and replaced by noisy linear imputation: per channel, every removed value is the
weighted mean of its in-image neighbours (1/6 edge, 1/12 diagonal; kept neighbours with their
values, removed ones with their imputed values), then σ·ε is added at the removed pixels with
ε one fixed standard-normal field per (order, percentage), the same for every image. The curves
are the target's softmax probability and whether the model still predicts the target; each
curve's area is the trapezoid over x = p/100.

Here the linear system is written out as an explicit sparse matrix and solved by plain
conjugate gradients in float64; the fast path (ops/linear_imputation.py) solves the same
system for many images at once.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch

from .common import Scorer, pixel_ranks

ROAD_PERCENTAGES = (10.0, 20.0, 30.0, 40.0, 50.0, 70.0, 90.0)  # road_evaluation's experiments
ROAD_ORDERS = ("morf", "lerf")
ROAD_NOISE = 0.01
ROAD_SCORES = ("probability", "accuracy")
NEIGHBOUR_WEIGHTS = tuple(
    ((dy, dx), 1.0 / 6.0 if dy == 0 or dx == 0 else 1.0 / 12.0)
    for dy in (-1, 0, 1)
    for dx in (-1, 0, 1)
    if (dy, dx) != (0, 0)
)
_CG_TOLERANCE = 1e-12


def removed_counts(n_pixels: int, percentages) -> list[int]:
    """⌊n·p/100⌋ for each percentage: how many pixels each level removes."""
    return [int(n_pixels * float(p) / 100.0) for p in percentages]


def removal_masks(ranks: torch.Tensor, counts: list[int], order: str) -> torch.Tensor:
    """(len(counts), H, W) bool from the pixel ranks (H, W) of pixel_ranks: MoRF removes the
    pixels of rank < n, LeRF those of rank ≥ H·W − n."""
    n_pixels = ranks.numel()
    limits = torch.tensor(counts, device=ranks.device)[:, None, None]
    return ranks[None] < limits if order == "morf" else ranks[None] >= n_pixels - limits


def road_noise(seed: int, percentages: int, like: torch.Tensor) -> torch.Tensor:
    """ε: (2, P, C, H, W) float64 standard normals on the CPU from `seed`, [0] for MoRF and [1]
    for LeRF, whichever orders are scored, so one order's noise never depends on the other's."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn((2, percentages, *like.shape), generator=generator, dtype=torch.float64)


def imputation_system(removed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The matrix A (n × n, sparse float64) of the removed pixels' equations
    d_i·v_i − Σ_{j removed} w_ij·v_j = Σ_{j kept} w_ij·x_j, with d_i the sum of the in-image
    neighbours' weights; also the removed pixels' flat indices and, per removed pixel and
    neighbour, the kept neighbour's flat index (−1 where there is none) and weight."""
    height, width = removed.shape
    flat = torch.nonzero(removed.flatten()).flatten()
    variable = torch.full((height * width,), -1, dtype=torch.long)
    variable[flat] = torch.arange(flat.numel())
    rows, columns = flat // width, flat % width
    entries, values = [], []
    diagonal = torch.zeros(flat.numel(), dtype=torch.float64)
    kept_index, kept_weight = [], []
    for (dy, dx), weight in NEIGHBOUR_WEIGHTS:
        y, x = rows + dy, columns + dx
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        neighbour = torch.where(inside, y * width + x, torch.zeros_like(y))
        diagonal += weight * inside.to(torch.float64)  # (a bool tensor times a float is float32)
        unknown = inside & removed.flatten()[neighbour]
        own = torch.nonzero(unknown).flatten()
        entries.append(torch.stack([own, variable[neighbour[own]]]))
        values.append(torch.full((own.numel(),), -weight, dtype=torch.float64))
        kept = inside & ~unknown
        kept_index.append(torch.where(kept, neighbour, torch.full_like(neighbour, -1)))
        kept_weight.append(weight * kept.to(torch.float64))
    identity = torch.arange(flat.numel())
    entries.append(torch.stack([identity, identity]))
    values.append(diagonal)
    size = (flat.numel(),) * 2
    matrix = torch.sparse_coo_tensor(torch.cat(entries, 1), torch.cat(values), size, check_invariants=False)
    return matrix.coalesce(), flat, (torch.stack(kept_index, 1), torch.stack(kept_weight, 1))


def conjugate_gradients(matrix: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """A⁻¹·rhs for a symmetric positive definite sparse A, columns of rhs solved together,
    to a relative residual of 1e−12 each."""
    solution = torch.zeros_like(rhs)
    residual = rhs.clone()
    direction = residual.clone()
    rr = (residual * residual).sum(0)
    goal = _CG_TOLERANCE**2 * rr
    for _ in range(20 * rhs.shape[0] + 100):
        if bool((rr <= goal).all()):
            return solution
        product = torch.sparse.mm(matrix, direction)
        alpha = rr / (direction * product).sum(0)
        solution += alpha * direction
        residual -= alpha * product
        rr_next = (residual * residual).sum(0)
        direction = residual + (rr_next / rr) * direction
        rr = rr_next
    raise RuntimeError("conjugate gradients did not converge; are the image and the mask finite?")


def linear_imputation_reference(image: torch.Tensor, removed: torch.Tensor) -> torch.Tensor:
    """(C, H, W) float64: `image` with the pixels `removed` (H, W) replaced by their noiseless
    linear imputation."""
    channels = image.shape[0]
    planes = image.detach().cpu().to(torch.float64).reshape(channels, -1)
    removed = removed.cpu()
    if not bool(removed.any()):
        return planes.view_as(image).clone()
    matrix, flat, (kept_index, kept_weight) = imputation_system(removed)
    known = planes[:, kept_index.clamp_min(0)]  # (C, n, 8)
    rhs = (known * kept_weight[None]).sum(-1).T  # (n, C)
    filled = planes.clone()
    filled[:, flat] = conjugate_gradients(matrix, rhs).T
    return filled.view_as(image)


@dataclass
class RoadCurves:
    """Per key "<order>/<score>" (order morf | lerf, score probability | accuracy): curves (B, P)
    over `percentages`, and their areas (B,)."""

    percentages: tuple[float, ...]
    curves: dict[str, torch.Tensor]
    auc: dict[str, torch.Tensor]


def road_auc(curves: torch.Tensor, percentages) -> torch.Tensor:
    """Trapezoid of (…, P) curves over x = p/100 (0 for a single percentage)."""
    x = torch.tensor([float(p) / 100.0 for p in percentages], dtype=torch.float64)
    if x.numel() < 2:
        return torch.zeros(curves.shape[:-1], dtype=torch.float64)
    widths = x[1:] - x[:-1]
    return (0.5 * (curves[..., 1:] + curves[..., :-1]) * widths).sum(-1)


def road_images(image, ranks, percentages, order, noise, epsilon) -> torch.Tensor:
    """(P, C, H, W) float64: the image after each percentage's removal and noisy imputation."""
    counts = removed_counts(ranks.numel(), percentages)
    masks = removal_masks(ranks.cpu(), counts, order)
    filled = torch.stack([linear_imputation_reference(image, mask) for mask in masks])
    if noise:
        filled += noise * epsilon[ROAD_ORDERS.index(order)] * masks[:, None]
    return filled


def road(
    model,
    images: torch.Tensor,
    saliency: torch.Tensor,
    targets: torch.Tensor,
    percentages=ROAD_PERCENTAGES,
    noise: float = ROAD_NOISE,
    seed: int = 0,
    orders=ROAD_ORDERS,
    batch_size: int | None = None,
    progress_bar=None,
) -> RoadCurves:
    """ROAD curves and areas of every image, one image at a time."""
    score = Scorer(model, batch_size)
    epsilon = road_noise(seed, len(percentages), images[0]) if noise else None
    found = {f"{order}/{name}": [] for order in orders for name in ROAD_SCORES}
    for image, saliency_i, target in zip(images, saliency, targets.tolist()):
        ranks = pixel_ranks(saliency_i)
        for order in orders:
            stack = road_images(image, ranks, percentages, order, noise, epsilon)
            probability, classes = score(stack.to(device=image.device, dtype=image.dtype), target)
            found[f"{order}/probability"].append(probability)
            found[f"{order}/accuracy"].append((classes == target).to(torch.float64))
        if progress_bar is not None:
            progress_bar.update(1)
    curves = {key: torch.stack(values) for key, values in found.items()}
    return RoadCurves(
        tuple(float(p) for p in percentages), curves, {k: road_auc(c, percentages) for k, c in curves.items()}
    )


def check_road_options(percentages, noise, seed, orders) -> None:
    """Percentages strictly increasing in (0, 100), noise a finite σ ≥ 0, seed an int ≥ 0,
    orders a non-empty selection of ROAD_ORDERS."""
    if isinstance(percentages, (str, bytes)) or not hasattr(percentages, "__len__") or not len(percentages):
        raise ValueError(
            f"road_percentages must be a non-empty list of numbers in (0, 100), got {percentages!r}"
        )
    for p in percentages:
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 < float(p) < 100.0:
            raise ValueError(
                f"road_percentages must lie strictly between 0 and 100 (percent of the pixels removed), "
                f"got {p!r} in {list(percentages)!r}"
            )
    if any(float(b) <= float(a) for a, b in zip(percentages, percentages[1:])):
        raise ValueError(
            f"road_percentages must be sorted and without repeats, got {list(percentages)!r}; "
            f"pass e.g. {sorted(set(float(p) for p in percentages))!r}"
        )
    if (
        isinstance(noise, bool)
        or not isinstance(noise, numbers.Real)
        or not 0.0 <= float(noise) < float("inf")
    ):
        raise ValueError(
            f"road_noise must be a finite number ≥ 0 (the imputation noise's σ; 0 for none), got {noise!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"road_seed must be an int ≥ 0, got {seed!r}")
    if (
        isinstance(orders, str)
        or not orders
        or any(o not in ROAD_ORDERS for o in orders)
        or len(set(orders)) != len(orders)
    ):
        raise ValueError(f"road_orders must name each of {ROAD_ORDERS} at most once, got {orders!r}")


def check_road_images(height: int, width: int) -> None:
    if height < 3 or width < 3:
        raise ValueError(
            f"ROAD imputes each removed pixel from its 3 × 3 neighbourhood; images of {height} × {width} "
            "are too small: pass images of at least 3 × 3 pixels"
        )
