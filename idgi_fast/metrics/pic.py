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
from ..profiling import annotate
from ..reference.metrics.common import level_counts, pixel_ranks
from ..reference.metrics.information import check_entropy_options, encode_pixel_sizes
from ..reference.metrics.pic import (
    INFORMATION_AXES,
    PAIR_THRESHOLDS,
    SCORES,
    PicCurves,
    bokeh_maker,
    check_pic_options,
    curves_from_levels,
    pic_levels,
)
from ..validation import default_batch_size
from .common import score_targets
from .information import ms_ssim_levels


def pic_curves(
    model,
    images: torch.Tensor,
    saliency: torch.Tensor,
    targets: torch.Tensor,
    *,
    profile: str = "blur",
    sigma: float = 10.0,
    levels: int = 25,
    information=INFORMATION_AXES,
    scores=SCORES,
    entropy_format: str = "webp",
    webp_method: int = 4,
    msssim_norm: str = "none",
    msssim_win_size: int = 11,
    msssim_scales: int = 5,
    min_pred: float = 0.8,
    sic_aggregate: str = "median",
    aic_aggregate: str = "mean",
    pair_thresholds=PAIR_THRESHOLDS,
    pair_random_fraction: float = 0.01,
    pair_seed: int = 0,
    pair_random_mask=None,
    batch_size: int | None = None,
    backend: str = "reference",
    encode_workers: int | None = None,
    overlap_encoding: bool | None = None,
    progress_bar=None,
    graphs: str = "off",
) -> PicCurves:
    """SIC and/or AIC of every image on every requested information axis.

    backend "reference": one image at a time. "torch" / "triton" (blur profile; the pair
    profile always runs the reference): the bokeh levels of several images composited in one
    launch and scored together, MS-SSIM batched over them, and the compressed sizes encoded on
    a pool of `encode_workers` threads, while the model scores the same images when
    `overlap_encoding` (default: off the CPU only, where the two would share the cores);
    graphs: score_targets' (the batched path only).
    """
    check_pic_options(profile, information, scores, msssim_norm, min_pred, sic_aggregate, aic_aggregate)
    if "entropy" in information:
        check_entropy_options(entropy_format, webp_method, images.shape[1])
    options = dict(
        information=information,
        entropy_format=entropy_format,
        webp_method=webp_method,
        msssim_win_size=msssim_win_size,
        msssim_scales=msssim_scales,
        batch_size=batch_size,
        progress_bar=progress_bar,
    )
    if profile == "blur" and backend != "reference":
        levels_data, original_data = _levels_batched(
            model,
            images,
            saliency,
            targets,
            sigma,
            levels,
            backend=backend,
            encode_workers=encode_workers,
            overlap_encoding=overlap_encoding,
            graphs=graphs,
            **options,
        )
    else:
        bokeh_of = bokeh_maker(
            profile,
            images.shape[-2:],
            sigma,
            levels,
            pair_thresholds,
            pair_random_fraction,
            pair_seed,
            pair_random_mask,
        )
        levels_data, original_data = pic_levels(model, images, saliency, targets, bokeh_of, **options)
    return curves_from_levels(
        levels_data,
        original_data,
        targets.cpu(),
        information,
        scores,
        msssim_norm,
        min_pred,
        {"sic": sic_aggregate, "aic": aic_aggregate},
        backend=backend,
        device=images.device,
        zero_last=profile == "pair",
    )


def _levels_batched(
    model,
    images,
    saliency,
    targets,
    sigma,
    levels,
    *,
    information,
    entropy_format,
    webp_method,
    msssim_win_size,
    msssim_scales,
    batch_size,
    progress_bar,
    backend,
    encode_workers,
    overlap_encoding,
    graphs,
):
    """The same values as _levels_per_image for the blur profile, from the fast ops."""
    if overlap_encoding is None:
        # on the CPU the model and the encoders compete for the same cores (see bench/RESULTS.md)
        overlap_encoding = images.device.type != "cpu"
    batch, _, height, width = images.shape
    ranks = pixel_ranks(saliency)
    counts = torch.tensor(level_counts(height * width, levels - 1), device=images.device)
    with annotate("compositing"):
        # per image, as the reference blurs, so that every bokeh image is bit-identical
        canvases = torch.stack([gaussian_blur(image[None], sigma, padding="zeros")[0] for image in images])
    with annotate("forward"):
        p_input, c_input = score_targets(model, images, targets, batch_size, backend, graphs)
    batch_size = batch_size or default_batch_size(images.device)
    per_call = max(1, batch_size // levels)
    rows = {name: [] for name in ("probability", "predicted", "msssim")}
    pending_sizes = []
    pool = (
        ThreadPoolExecutor(max_workers=encode_workers or os.cpu_count() or 1)
        if "entropy" in information
        else None
    )
    try:
        for start in range(0, batch, per_call):
            part = slice(start, start + per_call)
            with annotate("compositing"):
                bokeh = composite(images[part], canvases[part], ranks[part], counts, backend).flatten(0, 1)
            if pool is not None:
                with annotate("entropy"):  # encoding runs on the pool while the model scores these images
                    pixels = quantise_hwc(torch.cat([bokeh, images[part]]), backend).cpu().numpy()
                    pending = encode_pixel_sizes(pixels, entropy_format, webp_method, pool)
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
                    rows["msssim"].append(
                        ms_ssim_levels(
                            bokeh.view(-1, levels, *images.shape[1:]),
                            images[part],
                            msssim_win_size,
                            msssim_scales,
                            backend,
                        )
                    )
            if progress_bar is not None:
                progress_bar.update(len(range(batch)[part]))
        levels_data = {
            "probability": torch.cat(rows["probability"]).cpu(),
            "predicted": torch.cat(rows["predicted"]).cpu(),
        }
        original_data = {"probability": p_input.cpu(), "predicted": c_input.cpu()}
        if "msssim" in information:
            levels_data["msssim"] = torch.cat(rows["msssim"]).cpu()
            with annotate("msssim"):
                original_data["msssim"] = ms_ssim_levels(
                    images[:, None], images, msssim_win_size, msssim_scales, backend
                )[:, 0].cpu()
        if pool is not None:
            with annotate("entropy"):
                level_sizes, input_sizes = [], []
                for start, pending in zip(range(0, batch, per_call), pending_sizes):
                    sizes = torch.tensor(list(pending), dtype=torch.float64)
                    n_images = len(range(batch)[start : start + per_call])
                    level_sizes.append(sizes[: n_images * levels].view(n_images, levels))
                    input_sizes.append(sizes[n_images * levels :])
                levels_data["entropy"], original_data["entropy"] = (
                    torch.cat(level_sizes),
                    torch.cat(input_sizes),
                )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return levels_data, original_data
