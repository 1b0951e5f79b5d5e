"""Performance information curves, SIC and AIC (SEMANTICS.md §6).

Each image is revealed on a "bokeh" canvas level by level. A level's information (x) is its
compressed size or its MS-SSIM to the input; its score (y) is the target's softmax
probability (SIC) or whether the model still predicts the target (AIC), both normalised
between canvas and input. The curve y(x) is resampled on a fixed grid so that curves of
different images can be aggregated point-wise.
"""
from __future__ import annotations

from dataclasses import dataclass

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ..methods.paths import gaussian_blur
from ..ops.composite import composite
from ..ops.rescore import information_curves
from ..profiling import annotate
from .common import Scorer, level_counts, pixel_ranks, reveal_stack, score_targets, trapezoid
from .information import check_entropy_options, compressed_sizes, encode_sizes, ms_ssim, ms_ssim_levels

PROFILES = ("blur", "pair")
INFORMATION_AXES = ("entropy", "msssim")
MSSSIM_NORMS = ("none", "endpoints")
AGGREGATES = ("median", "mean")
SCORES = ("sic", "aic")
PAIR_THRESHOLDS = (0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.07, 0.10, 0.13, 0.21, 0.34, 0.5, 0.75)
CURVE_POINTS = 1000
SKIP_REASONS = {
    "low_prediction": "the input's score is below min_pred",
    "canvas_not_less_informative": "the canvas is not below the input on the information axis",
    "canvas_not_less_predictive": "the canvas scores at least as high as the input",
}


# ---- bokeh images ------------------------------------------------------------------------

def blur_bokeh(image: torch.Tensor, saliency: torch.Tensor, sigma: float, levels: int) -> torch.Tensor:
    """(L, C, H, W): G_σ(image) (zeros padding) with the top ⌊l·H·W/(L−1)⌋ pixels copied; level L−1 is the input."""
    canvas = gaussian_blur(image[None], sigma, padding="zeros")[0]
    return reveal_stack(image, canvas, pixel_ranks(saliency), level_counts(saliency.numel(), levels - 1))


def pair_always_revealed(height: int, width: int, fraction: float = 0.01, seed: int = 0) -> torch.Tensor:
    """(H, W) bool: round(fraction·H·W) pixels drawn without replacement from `seed`, and the four corners.

    The draw depends only on (height, width, fraction, seed), so every image of a size gets the
    same mask whatever the batch.
    """
    n_random = int(round(fraction * height * width))
    chosen = np.random.default_rng(seed).choice(height * width, size=n_random, replace=False)
    mask = torch.zeros(height * width, dtype=torch.bool)
    mask[torch.from_numpy(chosen)] = True
    mask = mask.view(height, width)
    mask[0, 0] = mask[0, -1] = mask[-1, 0] = mask[-1, -1] = True
    return mask


def interpolate_from_revealed(image: torch.Tensor, revealed: torch.Tensor) -> torch.Tensor:
    """(C, H, W): revealed pixels kept, every other pixel linearly interpolated on their Delaunay triangulation."""
    try:
        from scipy.interpolate import LinearNDInterpolator
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("the 'pair' bokeh profile needs scipy: pip install 'idgi-fast[pair]'") from None
    height, width = revealed.shape
    rows, cols = torch.nonzero(revealed.cpu(), as_tuple=True)
    known = np.stack([rows.numpy(), cols.numpy()], axis=1).astype(np.float64)
    values = image.detach().cpu().to(torch.float64)[:, rows, cols].T.numpy()  # (n, C)
    grid_r, grid_c = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    filled = LinearNDInterpolator(known, values)(grid_r, grid_c)  # (H, W, C)
    filled = torch.from_numpy(np.ascontiguousarray(filled.transpose(2, 0, 1))).to(device=image.device, dtype=image.dtype)
    return torch.where(revealed.to(image.device)[None], image, filled)


def pair_bokeh(image: torch.Tensor, saliency: torch.Tensor, always: torch.Tensor,
               thresholds=PAIR_THRESHOLDS) -> torch.Tensor:
    """(T + 1, C, H, W): the canvas (only `always` revealed), then one image per saliency threshold t,
    revealing s ≥ quantile(s, 1 − t) as well."""
    flat = saliency.flatten().cpu()
    stack = [interpolate_from_revealed(image, always)]
    for t in thresholds:
        revealed = (saliency.cpu() >= torch.quantile(flat, 1.0 - t)) | always
        stack.append(interpolate_from_revealed(image, revealed))
    return torch.stack(stack)


# ---- curves -----------------------------------------------------------------------------

def normalise(values: torch.Tensor, canvas: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """(v − canvas)/(original − canvas) clipped to [0, 1], row by row ((B, L) values, (B,) ends)."""
    return ((values - canvas[:, None]) / (original - canvas)[:, None]).clamp(0.0, 1.0)


def pic_curve(information: torch.Tensor, score: torch.Tensor, points: int = CURVE_POINTS) -> torch.Tensor:
    """(points + 1,) curve on x = 0, 1/points, …, 1 from one image's (L,) normalised levels.

    The score's running maximum over levels, with (0, 0) and (1, 1) added, sorted by x (ties
    keep level order) and interpolated linearly; at a tie in x the later point wins.
    """
    information, score = information.cpu().to(torch.float64), score.cpu().to(torch.float64)
    ends = torch.tensor([0.0], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64)
    x = torch.cat([ends[0], information, ends[1]])
    y = torch.cat([ends[0], torch.cummax(score, dim=0).values, ends[1]])
    order = torch.sort(x, stable=True).indices
    x, y = x[order], y[order]
    grid = torch.arange(points, dtype=torch.float64) / points
    right = torch.searchsorted(x, grid, right=True)  # first point with x > q: x[-1] = 1 > q always
    left = right - 1
    fraction = (grid - x[left]) / (x[right] - x[left])
    curve = y[left] + fraction * (y[right] - y[left])
    return torch.cat([curve, torch.ones(1, dtype=torch.float64)])


def curve_auc(curves: torch.Tensor) -> torch.Tensor:
    """Trapezoid area of curves sampled on the uniform grid of `pic_curve`."""
    return trapezoid(curves, 1.0 / (curves.shape[-1] - 1))


def aggregate_curves(curves: torch.Tensor, how: str) -> torch.Tensor:
    """Point-wise median (the mean of the two middle values for an even count) or mean of (N, P) curves."""
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {how!r}")
    if curves.shape[0] == 0:
        return torch.full((curves.shape[1],), float("nan"), dtype=torch.float64)
    if how == "mean":
        return curves.mean(dim=0)
    ordered = torch.sort(curves, dim=0).values
    n = ordered.shape[0]
    return 0.5 * (ordered[(n - 1) // 2] + ordered[n // 2])


@dataclass
class PicCurves:
    """SIC/AIC results keyed "sic/entropy", "aic/msssim", …

    `curves` (B, P+1) and `auc` (B,) are NaN for skipped images; `skip_reasons` lists every rule
    an image broke; the aggregate curve and its AUC use the images that were not skipped.
    `levels` keeps the raw per-level values: "probability" and "predicted" (B, L), and per axis
    "entropy" (bytes) or "msssim", with the canvas at level 0.
    """

    curves: dict[str, torch.Tensor]
    auc: dict[str, torch.Tensor]
    skip_reasons: dict[str, list[list[str]]]
    aggregate_curve: dict[str, torch.Tensor]
    aggregate_auc: dict[str, float]
    levels: dict[str, torch.Tensor]
    original: dict[str, torch.Tensor]

    def skipped(self, key: str) -> dict[str, int]:
        counts = {reason: 0 for reason in SKIP_REASONS}
        for reasons in self.skip_reasons[key]:
            for reason in reasons:
                counts[reason] += 1
        counts["images"] = sum(1 for reasons in self.skip_reasons[key] if reasons)
        return counts


def _check_choice(name: str, value: object, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_pic_options(profile, information, scores, msssim_norm, min_pred, sic_aggregate, aic_aggregate) -> None:
    _check_choice("pic_profile", profile, PROFILES)
    _check_choice("msssim_norm", msssim_norm, MSSSIM_NORMS)
    _check_choice("sic_aggregate", sic_aggregate, AGGREGATES)
    _check_choice("aic_aggregate", aic_aggregate, AGGREGATES)
    for axis in information:
        _check_choice("information", axis, INFORMATION_AXES)
    for name in scores:
        _check_choice("scores", name, SCORES)
    if isinstance(min_pred, bool) or not isinstance(min_pred, (int, float)) or not 0.0 <= min_pred <= 1.0:
        raise ValueError(f"min_pred must be a probability in [0, 1], got {min_pred!r}")


def pic_curves(model, images: torch.Tensor, saliency: torch.Tensor, targets: torch.Tensor, *, profile: str = "blur",
               sigma: float = 10.0, levels: int = 25, information=INFORMATION_AXES, scores=SCORES,
               entropy_format: str = "webp", webp_method: int = 4, msssim_norm: str = "none",
               msssim_win_size: int = 11, msssim_scales: int = 5, min_pred: float = 0.8,
               sic_aggregate: str = "median", aic_aggregate: str = "mean", pair_thresholds=PAIR_THRESHOLDS,
               pair_random_fraction: float = 0.01, pair_seed: int = 0, batch_size: int | None = None,
               backend: str = "reference", encode_workers: int | None = None, overlap_encoding: bool | None = None,
               progress_bar=None) -> PicCurves:
    """SIC and/or AIC of every image on every requested information axis.

    backend "reference": one image at a time. "torch" / "triton" (blur profile; the pair
    profile always runs the reference): the bokeh levels of several images composited in one
    launch and scored together, MS-SSIM batched over them, and the compressed sizes encoded on
    a pool of `encode_workers` threads, while the model scores the same images when
    `overlap_encoding` (default: off the CPU only, where the two would share the cores).
    """
    check_pic_options(profile, information, scores, msssim_norm, min_pred, sic_aggregate, aic_aggregate)
    if "entropy" in information:
        check_entropy_options(entropy_format, webp_method, images.shape[1])
    options = dict(information=information, entropy_format=entropy_format, webp_method=webp_method,
                   msssim_win_size=msssim_win_size, msssim_scales=msssim_scales, batch_size=batch_size,
                   progress_bar=progress_bar)
    if profile == "blur" and backend != "reference":
        levels_data, original_data = _levels_batched(model, images, saliency, targets, sigma, levels, backend=backend,
                                                     encode_workers=encode_workers, overlap_encoding=overlap_encoding,
                                                     **options)
    else:
        bokeh_of = _blur_bokeh_of(sigma, levels) if profile == "blur" else _pair_bokeh_of(
            images.shape[-2:], pair_thresholds, pair_random_fraction, pair_seed)
        levels_data, original_data = _levels_per_image(model, images, saliency, targets, bokeh_of, **options)
    return _curves_from_levels(levels_data, original_data, targets.cpu(), information, scores, msssim_norm, min_pred,
                               {"sic": sic_aggregate, "aic": aic_aggregate}, backend=backend, device=images.device)


def _blur_bokeh_of(sigma: float, levels: int):
    return lambda image, saliency: blur_bokeh(image, saliency, sigma, levels)


def _pair_bokeh_of(size, thresholds, random_fraction: float, seed: int):
    always = pair_always_revealed(*size, random_fraction, seed)
    return lambda image, saliency: pair_bokeh(image, saliency, always, thresholds)


def _levels_per_image(model, images, saliency, targets, bokeh_of, *, information, entropy_format, webp_method,
                      msssim_win_size, msssim_scales, batch_size, progress_bar):
    """Per-level values (B, L) and the inputs' values (B,), one image at a time (the reference)."""
    score = Scorer(model, batch_size)
    rows = {name: [] for name in ("probability", "predicted", *information)}
    original = {name: [] for name in ("probability", "predicted", *information)}
    for image, saliency_i, target in zip(images, saliency, targets.tolist()):
        bokeh = bokeh_of(image, saliency_i)
        p_levels, c_levels = score(bokeh, target)
        p_input, c_input = score(image[None], target)
        rows["probability"].append(p_levels)
        rows["predicted"].append(c_levels)
        original["probability"].append(p_input)
        original["predicted"].append(c_input)
        if "entropy" in information:
            sizes = compressed_sizes(torch.cat([bokeh, image[None]]), entropy_format, webp_method).to(torch.float64)
            rows["entropy"].append(sizes[:-1])
            original["entropy"].append(sizes[-1:])
        if "msssim" in information:
            rows["msssim"].append(ms_ssim(bokeh, image[None].expand_as(bokeh), msssim_win_size, msssim_scales).cpu())
            original["msssim"].append(ms_ssim(image[None], image[None], msssim_win_size, msssim_scales).cpu())
        if progress_bar is not None:
            progress_bar.update(1)
    return ({name: torch.stack(values) for name, values in rows.items()},
            {name: torch.cat(values) for name, values in original.items()})


def _levels_batched(model, images, saliency, targets, sigma, levels, *, information, entropy_format, webp_method,
                    msssim_win_size, msssim_scales, batch_size, progress_bar, backend, encode_workers,
                    overlap_encoding):
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
        p_input, c_input = score_targets(model, images, targets, batch_size, backend)
    per_call = max(1, (batch_size or batch * levels) // levels)
    rows = {name: [] for name in ("probability", "predicted", "msssim")}
    pending_sizes = []
    pool = ThreadPoolExecutor(max_workers=encode_workers or os.cpu_count() or 1) if "entropy" in information else None
    try:
        for start in range(0, batch, per_call):
            part = slice(start, start + per_call)
            with annotate("compositing"):
                bokeh = composite(images[part], canvases[part], ranks[part], counts, backend).flatten(0, 1)
            if pool is not None:
                with annotate("entropy"):  # encoding runs on the pool while the model scores these images
                    pending = encode_sizes(torch.cat([bokeh, images[part]]), entropy_format, webp_method, pool)
                    pending_sizes.append(pending if overlap_encoding else list(pending))
            with annotate("forward"):
                found = score_targets(model, bokeh, targets[part].repeat_interleave(levels),
                                      batch_size and max(batch_size, levels), backend)
            rows["probability"].append(found[0].view(-1, levels))
            rows["predicted"].append(found[1].view(-1, levels))
            if "msssim" in information:
                with annotate("msssim"):
                    rows["msssim"].append(ms_ssim_levels(bokeh.view(-1, levels, *images.shape[1:]), images[part],
                                                         msssim_win_size, msssim_scales))
            if progress_bar is not None:
                progress_bar.update(len(range(batch)[part]))
        levels_data = {"probability": torch.cat(rows["probability"]).cpu(),
                       "predicted": torch.cat(rows["predicted"]).cpu()}
        original_data = {"probability": p_input.cpu(), "predicted": c_input.cpu()}
        if "msssim" in information:
            levels_data["msssim"] = torch.cat(rows["msssim"]).cpu()
            with annotate("msssim"):
                original_data["msssim"] = ms_ssim_levels(images[:, None], images, msssim_win_size, msssim_scales)[:, 0].cpu()
        if pool is not None:
            with annotate("entropy"):
                level_sizes, input_sizes = [], []
                for start, pending in zip(range(0, batch, per_call), pending_sizes):
                    sizes = torch.tensor(list(pending), dtype=torch.float64)
                    n_images = len(range(batch)[start:start + per_call])
                    level_sizes.append(sizes[:n_images * levels].view(n_images, levels))
                    input_sizes.append(sizes[n_images * levels:])
                levels_data["entropy"], original_data["entropy"] = torch.cat(level_sizes), torch.cat(input_sizes)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return levels_data, original_data


def _curves_from_levels(levels_data, original_data, targets_cpu, information, scores, msssim_norm, min_pred,
                        aggregate_how, backend: str = "reference", device="cpu") -> PicCurves:
    """Normalisation, skip rules, curves, AUCs and aggregates from the per-level values: one image
    at a time for the reference, else the kept images' curves at once by the rescoring op on `device`."""
    batch = targets_cpu.shape[0]
    score_values = {
        "sic": (levels_data["probability"], original_data["probability"]),
        "aic": ((levels_data["predicted"] == targets_cpu[:, None]).to(torch.float64),
                (original_data["predicted"] == targets_cpu).to(torch.float64)),
    }
    result = PicCurves({}, {}, {}, {}, {}, levels_data, original_data)
    for axis in information:
        x_levels, x_input = levels_data[axis], original_data[axis]
        if axis == "msssim" and msssim_norm == "none":
            x_normalised = x_levels.clamp(0.0, 1.0)
        else:
            x_normalised = normalise(x_levels, x_levels[:, 0], x_input)
        for name in scores:
            y_levels, y_input = score_values[name]
            y_canvas = y_levels[:, 0]
            key = f"{name}/{axis}"
            reasons = []
            for i in range(batch):
                broken = []
                if y_input[i] < min_pred:
                    broken.append("low_prediction")
                if x_levels[i, 0] >= x_input[i]:
                    broken.append("canvas_not_less_informative")
                if y_canvas[i] >= y_input[i]:
                    broken.append("canvas_not_less_predictive")
                reasons.append(broken)
            curves = torch.full((batch, CURVE_POINTS + 1), float("nan"), dtype=torch.float64)
            kept = torch.tensor([not broken for broken in reasons], dtype=torch.bool)
            if backend == "reference":
                for i in torch.nonzero(kept).flatten().tolist():
                    y_normalised = normalise(y_levels[i:i + 1], y_canvas[i:i + 1], y_input[i:i + 1])[0]
                    curves[i] = pic_curve(x_normalised[i], y_normalised)
                auc = curve_auc(curves)
            else:
                auc = torch.full((batch,), float("nan"), dtype=torch.float64)
                if kept.any():
                    with annotate("rescoring"):
                        found = information_curves(*(t[kept].to(device) for t in (x_levels, x_input, y_levels,
                                                                                   y_input)),
                                                   normalise_x=not (axis == "msssim" and msssim_norm == "none"),
                                                   points=CURVE_POINTS, backend=backend)
                    curves[kept], auc[kept] = found[0].cpu(), found[1].cpu()
            aggregate = aggregate_curves(curves[kept], aggregate_how[name])
            result.curves[key] = curves
            result.auc[key] = auc
            result.skip_reasons[key] = reasons
            result.aggregate_curve[key] = aggregate
            result.aggregate_auc[key] = float(curve_auc(aggregate))
    return result
