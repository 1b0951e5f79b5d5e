"""The streaming engine: path points go through the model chunk by chunk and are folded
into the accumulators at once, so memory does not grow with the number of steps.

Points are visited from the input towards the baseline (path index j = m … 0), all images
of a path index before the next. IDGI's interval j needs g_j and F_{j+s}; in this order
F_{j+s} is always known by the time g_j arrives (from an earlier chunk or the same one), so
no gradient is ever kept past its chunk and no point is evaluated twice. F comes from the
same forward pass as the gradient.
"""
from __future__ import annotations

import torch

from .methods.estimators import BlurPath, StraightPath
from .methods.guided import guided_ig_stream
from .ops.accumulate import accumulate, squared_norms
from .outputs import output_and_gradient
from .profiling import annotate


def default_batch_size(device: torch.device | str) -> int:
    """Path points per model call when batch_size is None.

    64 keeps a GPU busy. On the CPU smaller chunks stay in cache: SceneNet's forward +
    backward over 264 points took 0.70 s in chunks of 64 against 0.57 s in chunks of 32
    (2 cores; 8 and 16 were within noise of 32), so the CPU default is 32.
    """
    return 64 if torch.device(device).type == "cuda" else 32


def stream_path(model, path, targets: torch.Tensor, counts: list[int], idgi: bool, output: str,
                batch_size: int | None, backend: str):
    """(base by count, IDGI by count or None, outputs (B, m + 1), points per image) of a known path."""
    inputs, steps = path.inputs, path.steps
    batch, device = inputs.shape[0], inputs.device
    js = torch.tensor(sorted(path.needed, reverse=True), device=device).repeat_interleave(batch)
    images = torch.arange(batch, device=device).repeat(len(path.needed))
    strides = [steps // n for n in counts]
    base = torch.zeros((len(counts), *inputs.shape), dtype=inputs.dtype, device=device)
    important = torch.zeros_like(base) if idgi else None
    outputs = torch.full((batch, steps + 1), float("nan"), dtype=inputs.dtype, device=device)

    chunk = batch_size or default_batch_size(device)
    start = 0
    while start < len(js):
        rows = slice(start, min(start + chunk, len(js)))
        chunk_images, chunk_js = images[rows], js[rows]
        try:
            with annotate("path points"):
                points, multiplier = path.points(chunk_images, chunk_js)
            with annotate("forward+backward"):
                values, gradients = output_and_gradient(model, points, targets[chunk_images], output)
        except torch.cuda.OutOfMemoryError:
            if chunk == 1:
                raise
            points = multiplier = None
            torch.cuda.empty_cache()
            chunk //= 2  # nothing of this chunk was accumulated yet: retry it at half the size
            continue
        with annotate("accumulate"):
            outputs[chunk_images, chunk_js] = values.detach()
            base_coef = torch.stack([path.base_coefficients(chunk_js, s) for s in strides], dim=1).to(inputs.dtype)
            idgi_coef = None
            if idgi:
                norms = squared_norms(gradients, backend).to(torch.float64)
                usable = torch.isfinite(norms) & (norms > 0)
                scales = []
                for s in strides:
                    interval = (chunk_js % s == 0) & (chunk_js < steps)
                    later = outputs[chunk_images, (chunk_js + s).clamp(max=steps)].to(torch.float64)
                    change = later - values.detach().to(torch.float64)
                    keep = interval & usable
                    scales.append(torch.where(keep, change / torch.where(keep, norms, 1.0), 0.0))
                idgi_coef = torch.stack(scales, dim=1).to(inputs.dtype)
            accumulate(gradients, multiplier, base_coef, idgi_coef, chunk_images, base, important, backend)
        start = rows.stop

    base_by_count = {n: path.finish(base[c]) for c, n in enumerate(counts)}
    idgi_by_count = {n: important[c] for c, n in enumerate(counts)} if idgi else None
    return base_by_count, idgi_by_count, outputs, len(path.needed)


def run(model, inputs, baselines, targets, *, method, steps, counts, idgi, output, batch_size, params,
        backend: str = "torch"):
    """The fast backends' entry point; same contract as reference.run."""
    if method == "ig":
        path = StraightPath(inputs, baselines, steps, idgi, params["rule"], backend)
        return stream_path(model, path, targets, counts, idgi, output, batch_size, backend)
    if method == "blur_ig":
        path = BlurPath(inputs, steps, idgi, backend=backend, **params)
        return stream_path(model, path, targets, counts, idgi, output, batch_size, backend)
    if method == "guided_ig":
        return guided_ig_stream(model, inputs, baselines, targets, steps, idgi, output, batch_size, backend,
                                **params)
    raise ValueError(f"unknown method {method!r}")
