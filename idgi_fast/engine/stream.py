"""The streaming loop: path points go through the model chunk by chunk and are folded into
the accumulators at once, so memory does not grow with the number of steps.

Points are visited from the input towards the baseline (path index j = m … 0), all images
of a path index before the next. IDGI's interval j needs g_j and F_{j+s}; in this order
F_{j+s} is always known by the time g_j arrives (from an earlier chunk or the same one), so
no gradient is ever kept past its chunk and no point is evaluated twice. F comes from the
same forward pass as the gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..ops.accumulate import accumulate, idgi_scales, squared_norms
from ..outputs import check_path_finite, output_and_gradient, point_finite
from ..profiling import annotate

# F (N,) and ∂F/∂point (like the points) of a chunk of points, each belonging to image `images[p]`
ChunkEvaluator = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def model_evaluator(model, targets: torch.Tensor, output: str) -> ChunkEvaluator:
    """The explained output of `model` (docs/semantics.md notation) at each point, for its image's target."""
    return lambda points, images: output_and_gradient(model, points, targets[images], output)


def stream_path(
    path,
    evaluate: ChunkEvaluator,
    counts: list[int],
    idgi: bool,
    batch_size: int,
    backend: str,
    targets: torch.Tensor | None = None,
):
    """(base by count, IDGI by count or None, outputs (B, m + 1), points per image) of a known path.

    `batch_size` path points go through `evaluate` at a time; `backend` is a resolved op backend.
    A NaN or Inf F or gradient stops it with the path point and image (outputs.NonFiniteOutput),
    checked once at the end so that no chunk waits for the host; `targets` (B,) name the
    explained classes in that message (None: not named).
    """
    inputs, steps = path.inputs, path.steps
    batch, device = inputs.shape[0], inputs.device
    js = torch.tensor(sorted(path.needed, reverse=True), device=device).repeat_interleave(batch)
    images = torch.arange(batch, device=device).repeat(len(path.needed))
    strides = [steps // n if n else 1 for n in counts]  # a one-point path (steps 0) has one count, 0
    base = torch.zeros((len(counts), *inputs.shape), dtype=inputs.dtype, device=device)
    important = torch.zeros_like(base) if idgi else None
    outputs = torch.full((batch, steps + 1), float("nan"), dtype=inputs.dtype, device=device)
    finite = torch.ones((batch, steps + 1), dtype=torch.bool, device=device)

    chunk = batch_size
    start = 0
    while start < len(js):
        rows = slice(start, min(start + chunk, len(js)))
        chunk_images, chunk_js = images[rows], js[rows]
        try:
            with annotate("path points"):
                points, multiplier = path.points(chunk_images, chunk_js)
            with annotate("forward+backward"):
                values, gradients = evaluate(points, chunk_images)
        except torch.cuda.OutOfMemoryError:
            if chunk == 1:
                raise
            points = multiplier = None
            torch.cuda.empty_cache()
            chunk //= 2  # nothing of this chunk was accumulated yet: retry it at half the size
            continue
        with annotate("accumulate"):
            values = values.detach()
            outputs[chunk_images, chunk_js] = values
            finite[chunk_images, chunk_js] = point_finite(values, gradients)
            base_coef = torch.stack([path.base_coefficients(chunk_js, s) for s in strides], dim=1).to(
                inputs.dtype
            )
            idgi_coef = None
            if idgi:
                norms = squared_norms(gradients, backend).to(torch.float64)
                scales = []
                for s in strides:
                    interval = (chunk_js % s == 0) & (chunk_js < steps)
                    later = outputs[chunk_images, (chunk_js + s).clamp(max=steps)].to(torch.float64)
                    change = later - values.to(torch.float64)
                    scales.append(torch.where(interval, idgi_scales(change, norms), 0.0))
                idgi_coef = torch.stack(scales, dim=1).to(inputs.dtype)
            accumulate(gradients, multiplier, base_coef, idgi_coef, chunk_images, base, important, backend)
        start = rows.stop

    check_path_finite(finite, targets, steps)
    base_by_count = {n: path.finish(base[c]) for c, n in enumerate(counts)}
    idgi_by_count = {n: important[c] for c, n in enumerate(counts)} if idgi else None
    return base_by_count, idgi_by_count, outputs, len(path.needed)
