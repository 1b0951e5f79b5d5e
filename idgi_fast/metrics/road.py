"""ROAD, batched (docs/metrics.md §15): the oracle's curves with every image, order and
percentage imputed at once by the linear imputation op and scored together."""

from __future__ import annotations

import torch

from ..ops.linear_imputation import linear_imputation
from ..reference.metrics.common import pixel_ranks
from ..reference.metrics.road import (
    ROAD_ORDERS,
    ROAD_PERCENTAGES,
    ROAD_SCORES,
    RoadCurves,
    removed_counts,
    road_auc,
    road_noise,
)
from ..utils.profiling import annotate
from ..validation import default_batch_size
from .common import score_targets

_PLANES_PER_SOLVE = 1 << 24  # pixels × channels of the systems imputed together (memory, not speed)


def road_batched(
    model,
    images: torch.Tensor,
    saliency: torch.Tensor,
    targets: torch.Tensor,
    percentages=ROAD_PERCENTAGES,
    noise: float = 0.01,
    seed: int = 0,
    orders=ROAD_ORDERS,
    batch_size: int | None = None,
    backend: str = "torch",
    progress_bar=None,
    graphs: str = "off",
) -> RoadCurves:
    """road()'s curves: ranks of every map at once, the removal masks of several images × orders
    × percentages imputed in one call of the op, their images scored batch_size at a time."""
    batch, channels, height, width = images.shape
    ranks = pixel_ranks(saliency).flatten(1)
    counts = torch.tensor(removed_counts(height * width, percentages), device=images.device)
    epsilon = road_noise(seed, len(percentages), images[0]).to(images.device) if noise else None
    per_call = max(1, _PLANES_PER_SOLVE // (len(orders) * len(percentages) * channels * height * width))
    batch_size = batch_size or default_batch_size(images.device, images[0].numel())
    found = {f"{order}/{name}": [] for order in orders for name in ROAD_SCORES}
    for start in range(0, batch, per_call):
        rows = slice(start, start + per_call)
        chunk, chunk_ranks, chunk_targets = images[rows], ranks[rows], targets[rows]
        for order in orders:
            rank, count = chunk_ranks[:, None, :], counts[None, :, None]
            removed = rank < count if order == "morf" else rank >= height * width - count
            removed = removed.reshape(-1, height, width)  # (n·P, H, W), image-major
            with annotate("imputation"):
                filled = linear_imputation(chunk.repeat_interleave(len(percentages), 0), removed, backend)
                if epsilon is not None:
                    noise_field = epsilon[ROAD_ORDERS.index(order)].repeat(chunk.shape[0], 1, 1, 1)
                    filled += noise * noise_field * removed[:, None]
            with annotate("forward"):
                probability, classes = score_targets(
                    model,
                    filled.to(images.dtype),
                    chunk_targets.repeat_interleave(len(percentages)),
                    batch_size,
                    backend,
                    graphs,
                )
            hits = (classes == chunk_targets.repeat_interleave(len(percentages))).to(torch.float64)
            found[f"{order}/probability"].append(probability.view(-1, len(percentages)))
            found[f"{order}/accuracy"].append(hits.view(-1, len(percentages)))
        if progress_bar is not None:
            progress_bar.update(chunk.shape[0])
    curves = {key: torch.cat(values).cpu() for key, values in found.items()}
    return RoadCurves(
        tuple(float(p) for p in percentages), curves, {k: road_auc(c, percentages) for k, c in curves.items()}
    )
