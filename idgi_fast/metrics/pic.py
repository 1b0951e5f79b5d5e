"""SIC and AIC (docs/semantics.md §6): the fast path for the blur profile, the oracle for the
pair profile and for backend="reference".

The fast path composites the bokeh levels of several images in one launch, scores them
together, computes MS-SSIM over all levels at once and encodes compressed sizes on a pool
of threads; normalisation, skip rules and curves are the oracle's `curves_from_levels`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch

from ..geometry import gaussian_blur
from ..ops.composite import composite
from ..ops.quantise import quantise_hwc
from ..reference.metrics.common import level_counts, pixel_ranks
from ..reference.metrics.information import check_entropy_options, encode_pixel_sizes
from ..reference.metrics.pic import (
    SCORES,
    PicCurves,
    bokeh_maker,
    check_pic_options,
    curves_from_levels,
    pic_levels,
)
from ..utils.profiling import annotate
from ..validation import default_batch_size
from .common import score_targets
from .information import msssim_of_levels
from .options import EvaluationOptions


def pic_curves(
    model,
    images: torch.Tensor,
    saliency: torch.Tensor,
    targets: torch.Tensor,
    options: EvaluationOptions = EvaluationOptions(),
    *,
    scores=SCORES,
    backend: str = "reference",
    graphs: str = "off",
    progress_bar=None,
) -> PicCurves:
    """SIC and/or AIC of every image on every axis of `options.information`, with the options'
    profile, levels and skip rules.

    backend "reference": one image at a time. "torch" / "triton" / "native" (blur profile; the pair
    profile always runs the reference): the bokeh levels of several images composited in one
    launch and scored together, MS-SSIM batched over them, and the compressed sizes encoded on
    a pool of `options.encode_workers` threads, while the model scores the same images when
    `options.overlap_encoding` (default: off the CPU only, where the two would share the cores);
    graphs: score_targets' (the batched path only).
    """
    o = options
    check_pic_options(
        o.pic_profile, o.information, scores, o.msssim_norm, o.min_pred, o.sic_aggregate, o.aic_aggregate
    )
    if "entropy" in o.information:
        check_entropy_options(o.entropy_format, o.webp_method, images.shape[1])
    return score_pic(model, images, saliency, targets, o, scores, backend, graphs, progress_bar)


def score_pic(
    model, images, saliency, targets, o: EvaluationOptions, scores, backend: str, graphs: str, progress_bar
) -> PicCurves:
    """pic_curves on arguments already checked (evaluate's request, metrics/request.py)."""
    if o.pic_profile == "blur" and backend != "reference":
        levels_data, original_data = _levels_batched(
            model, images, saliency, targets, o, backend, graphs, progress_bar
        )
    else:
        bokeh_of = bokeh_maker(
            o.pic_profile,
            images.shape[-2:],
            o.pic_sigma,
            o.pic_levels,
            o.pair_thresholds,
            o.pair_random_fraction,
            o.pair_seed,
            o.pair_random_mask,
        )
        levels_data, original_data = pic_levels(
            model,
            images,
            saliency,
            targets,
            bokeh_of,
            information=o.information,
            entropy_format=o.entropy_format,
            webp_method=o.webp_method,
            msssim_win_size=o.msssim_win_size,
            msssim_scales=o.msssim_scales,
            batch_size=o.batch_size,
            progress_bar=progress_bar,
        )
    return curves_from_levels(
        levels_data,
        original_data,
        targets.cpu(),
        o.information,
        scores,
        o.msssim_norm,
        o.min_pred,
        {"sic": o.sic_aggregate, "aic": o.aic_aggregate},
        backend=backend,
        device=images.device,
        zero_last=o.pic_profile == "pair",
    )


def _levels_batched(
    model, images, saliency, targets, options: EvaluationOptions, backend, graphs, progress_bar
):
    """The same values as the reference's pic_levels for the blur profile, from the fast ops."""
    levels, information = options.pic_levels, options.information
    overlap_encoding = options.overlap_encoding
    if overlap_encoding is None:
        # on the CPU the model and the encoders compete for the same cores
        overlap_encoding = images.device.type != "cpu"
    batch, _, height, width = images.shape
    ranks = pixel_ranks(saliency)
    counts = torch.tensor(level_counts(height * width, levels - 1), device=images.device)
    with annotate("compositing"):
        # per image, as the reference blurs, so that every bokeh image is bit-identical
        canvases = torch.stack(
            [gaussian_blur(image[None], options.pic_sigma, padding="zeros")[0] for image in images]
        )
    with annotate("forward"):
        p_input, c_input = score_targets(model, images, targets, options.batch_size, backend, graphs)
    batch_size = options.batch_size or default_batch_size(images.device, images[0].numel())
    per_call = max(1, batch_size // levels)
    rows = {name: [] for name in ("probability", "predicted", "msssim")}
    pending_sizes = []
    workers = options.encode_workers or os.cpu_count() or 1
    pool = ThreadPoolExecutor(max_workers=workers) if "entropy" in information else None
    try:
        for start in range(0, batch, per_call):
            part = slice(start, start + per_call)
            with annotate("compositing"):
                bokeh = composite(images[part], canvases[part], ranks[part], counts, backend).flatten(0, 1)
            if pool is not None:
                with annotate("entropy"):  # encoding runs on the pool while the model scores these images
                    pixels = quantise_hwc(torch.cat([bokeh, images[part]]), backend).cpu().numpy()
                    pending = encode_pixel_sizes(pixels, options.entropy_format, options.webp_method, pool)
                    pending_sizes.append(pending if overlap_encoding else list(pending))
            with annotate("forward"):
                found = score_targets(
                    model,
                    bokeh,
                    targets[part].repeat_interleave(levels),
                    max(batch_size, levels),
                    backend,
                    graphs,
                )
            rows["probability"].append(found[0].view(-1, levels))
            rows["predicted"].append(found[1].view(-1, levels))
            if "msssim" in information:
                with annotate("msssim"):
                    bokeh_levels = bokeh.view(-1, levels, *images.shape[1:])
                    rows["msssim"].append(
                        msssim_of_levels(
                            bokeh_levels,
                            images[part],
                            options.msssim_win_size,
                            options.msssim_scales,
                            backend,
                        )
                    )
            if progress_bar is not None:
                progress_bar.update(len(range(batch)[part]))
        levels_data = {name: torch.cat(found).cpu() for name, found in rows.items() if found}
        original_data = {"probability": p_input.cpu(), "predicted": c_input.cpu()}
        if "msssim" in information:
            with annotate("msssim"):
                original_data["msssim"] = msssim_of_levels(
                    images[:, None], images, options.msssim_win_size, options.msssim_scales, backend
                )[:, 0].cpu()
        if pool is not None:
            with annotate("entropy"):
                levels_data["entropy"], original_data["entropy"] = _encoded_sizes(
                    pending_sizes, batch, per_call, levels
                )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return levels_data, original_data


def _encoded_sizes(
    pending_sizes, batch: int, per_call: int, levels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The pool's compressed sizes, per chunk of images, into (B, levels) and (B,) float64."""
    level_sizes, input_sizes = [], []
    for start, pending in zip(range(0, batch, per_call), pending_sizes):
        sizes = torch.tensor(list(pending), dtype=torch.float64)
        n_images = len(range(batch)[start : start + per_call])
        level_sizes.append(sizes[: n_images * levels].view(n_images, levels))
        input_sizes.append(sizes[n_images * levels :])
    return torch.cat(level_sizes), torch.cat(input_sizes)
