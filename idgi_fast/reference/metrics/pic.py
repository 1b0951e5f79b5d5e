"""Performance information curves, SIC and AIC (docs/semantics.md §6), one image at a time.

Each image is revealed on a "bokeh" canvas level by level. A level's information (x) is its
compressed size or its MS-SSIM to the input; its score (y) is the target's softmax
probability (SIC) or whether the model still predicts the target (AIC), both normalised
between canvas and input. The curve y(x) is resampled on a fixed grid so that curves of
different images can be aggregated point-wise. `pic_levels` is the oracle's per-image
levels; `curves_from_levels` (normalisation, skip rules, curves, aggregates) is shared with
the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...geometry import gaussian_blur
from ...ops.information_curves import information_curves, normalised_curves_torch
from ...utils.profiling import annotate
from .common import Scorer, level_counts, pixel_ranks, reveal_stack, to_uint8, trapezoid
from .information import compressed_sizes, msssim

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


def blur_bokeh(image: torch.Tensor, saliency: torch.Tensor, sigma: float, levels: int) -> torch.Tensor:
    """(L, C, H, W): G_σ(image) (zeros padding) with the top ⌊l·H·W/(L−1)⌋ pixels copied;
    level L−1 is the input."""
    canvas = gaussian_blur(image[None], sigma, padding="zeros")[0]
    return reveal_stack(image, canvas, pixel_ranks(saliency), level_counts(saliency.numel(), levels - 1))


def pair_always_revealed(height: int, width: int, fraction: float = 0.01, seed: int = 0) -> torch.Tensor:
    """(H, W) bool: ⌊fraction·H·W⌋ pixels drawn without replacement from `seed` (as many as
    PAIR's generate_random_mask draws), and the four corners.

    The draw depends only on (height, width, fraction, seed), so every image of a size gets the
    same mask whatever the batch.
    """
    n_random = int(fraction * height * width)
    chosen = np.random.default_rng(seed).choice(height * width, size=n_random, replace=False)
    mask = torch.zeros(height * width, dtype=torch.bool)
    mask[torch.from_numpy(chosen)] = True
    return with_corners(mask.view(height, width))


def check_random_mask(mask: object, size) -> torch.Tensor:
    """The pair profile's given random mask: an (H, W) bool tensor or array of the images' size."""
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(mask)
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != tuple(size):
        shape = tuple(mask.shape) if hasattr(mask, "shape") else type(mask).__name__
        raise ValueError(
            f"pair_random_mask must be an (H, W) = {tuple(size)} bool tensor or array (PAIR's "
            f"generate_random_mask), got {shape} {getattr(mask, 'dtype', '')}"
        )
    return mask.cpu()


def with_corners(mask: torch.Tensor) -> torch.Tensor:
    """A copy of an (H, W) bool mask with its four corners set, as PAIR's interpolation sets them."""
    mask = mask.to(torch.bool).clone()
    mask[0, 0] = mask[0, -1] = mask[-1, 0] = mask[-1, -1] = True
    return mask


def interpolate_from_revealed(image: torch.Tensor, revealed: torch.Tensor) -> torch.Tensor:
    """(C, H, W) in [0, 1], on the 8-bit grid: PAIR's create_blurred_image of the image's 8-bit
    values — revealed pixels kept, every other pixel linearly interpolated on the Delaunay
    triangulation of the revealed ones (in float64, stored in float32), rounded to 8 bits."""
    try:
        from scipy.interpolate import LinearNDInterpolator
    except ImportError:  # pragma: no cover - depends on the install
        raise ImportError("the 'pair' bokeh profile needs scipy: pip install 'idgi-fast[pair]'") from None
    height, width = revealed.shape
    pixels = to_uint8(image.detach()[None])[0].cpu().numpy()  # (C, H, W) uint8
    rows, cols = torch.nonzero(revealed.cpu(), as_tuple=True)
    known = np.stack([rows.numpy(), cols.numpy()], axis=1).astype(np.float64)
    values = pixels[:, rows.numpy(), cols.numpy()].T.astype(np.float64)  # (n, C)
    hidden = ~revealed.cpu().numpy()
    filled = pixels.astype(np.float32)
    if hidden.any():
        unknown = np.argwhere(hidden).astype(np.float64)
        found = LinearNDInterpolator(known, values, fill_value=np.nan)(unknown)  # (m, C) float64
        filled[:, hidden] = found.T.astype(np.float32)
    levels = np.round(filled).astype(np.uint8)
    return torch.from_numpy(levels).to(device=image.device, dtype=image.dtype) / 255


def pair_bokeh(
    image: torch.Tensor, saliency: torch.Tensor, always: torch.Tensor, thresholds=PAIR_THRESHOLDS
) -> torch.Tensor:
    """(T + 1, C, H, W): the canvas (only `always` revealed), then one image per saliency threshold t,
    revealing s ≥ quantile(s, 1 − t) (numpy's, linear) as well; every level on the 8-bit grid."""
    values = saliency.detach().cpu().to(torch.float64).numpy()
    stack = [interpolate_from_revealed(image, always)]
    for t in thresholds:
        revealed = torch.from_numpy(values >= np.quantile(values, 1.0 - t)) | always.cpu()
        stack.append(interpolate_from_revealed(image, revealed))
    return torch.stack(stack)


def normalise(values: torch.Tensor, canvas: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """(v − canvas)/(original − canvas) clipped to [0, 1], row by row ((B, L) values, (B,) ends)."""
    return ((values - canvas[:, None]) / (original - canvas)[:, None]).clamp(0.0, 1.0)


def pic_curve(
    information: torch.Tensor, score: torch.Tensor, points: int = CURVE_POINTS, zero_last: bool = False
) -> torch.Tensor:
    """(points + 1,) curve on x = 0, 1/points, …, 1 from one image's (L,) normalised levels.

    The score's running maximum over levels, with (0, 0) and (1, 1) added, sorted by x (ties
    keep level order) and interpolated linearly; at a tie in x the later point wins. The
    rescoring op's torch implementation, on one image.
    """
    as_row = lambda t: t.cpu().to(torch.float64)[None]  # noqa: E731
    return normalised_curves_torch(as_row(information), as_row(score), points, zero_last)[0][0]


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


def check_pic_options(
    profile, information, scores, msssim_norm, min_pred, sic_aggregate, aic_aggregate
) -> None:
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


def bokeh_maker(
    profile: str,
    size,
    sigma: float,
    levels: int,
    thresholds,
    random_fraction: float,
    seed: int,
    random_mask=None,
):
    """f(image, saliency) → that image's bokeh levels under `profile`; the pair profile's random
    pixels are `random_mask` when given (PAIR's generate_random_mask's, say), else drawn from
    (random_fraction, seed)."""
    if profile == "blur":
        return lambda image, saliency: blur_bokeh(image, saliency, sigma, levels)
    if random_mask is not None:
        always = with_corners(check_random_mask(random_mask, size))
    else:
        always = pair_always_revealed(*size, random_fraction, seed)
    return lambda image, saliency: pair_bokeh(image, saliency, always, thresholds)


def pic_levels(
    model,
    images,
    saliency,
    targets,
    bokeh_of,
    *,
    information,
    entropy_format,
    webp_method,
    msssim_win_size,
    msssim_scales,
    batch_size,
    progress_bar,
):
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
            sizes = compressed_sizes(torch.cat([bokeh, image[None]]), entropy_format, webp_method).to(
                torch.float64
            )
            rows["entropy"].append(sizes[:-1])
            original["entropy"].append(sizes[-1:])
        if "msssim" in information:
            rows["msssim"].append(
                msssim(bokeh, image[None].expand_as(bokeh), msssim_win_size, msssim_scales).cpu()
            )
            original["msssim"].append(msssim(image[None], image[None], msssim_win_size, msssim_scales).cpu())
        if progress_bar is not None:
            progress_bar.update(1)
    return (
        {name: torch.stack(values) for name, values in rows.items()},
        {name: torch.cat(values) for name, values in original.items()},
    )


def curves_from_levels(
    levels_data,
    original_data,
    targets_cpu,
    information,
    scores,
    msssim_norm,
    min_pred,
    aggregate_how,
    backend: str = "reference",
    device="cpu",
    zero_last: bool = False,
) -> PicCurves:
    """Normalisation, skip rules, curves, AUCs and aggregates from the per-level values: one image
    at a time for the reference, else the kept images' curves at once by the rescoring op on `device`."""
    batch = targets_cpu.shape[0]
    score_values = {
        "sic": (levels_data["probability"], original_data["probability"]),
        "aic": (
            (levels_data["predicted"] == targets_cpu[:, None]).to(torch.float64),
            (original_data["predicted"] == targets_cpu).to(torch.float64),
        ),
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
                    y_normalised = normalise(y_levels[i : i + 1], y_canvas[i : i + 1], y_input[i : i + 1])[0]
                    curves[i] = pic_curve(x_normalised[i], y_normalised, zero_last=zero_last)
                auc = curve_auc(curves)
            else:
                auc = torch.full((batch,), float("nan"), dtype=torch.float64)
                if kept.any():
                    with annotate("rescoring"):
                        found = information_curves(
                            *(t[kept].to(device) for t in (x_levels, x_input, y_levels, y_input)),
                            normalise_x=not (axis == "msssim" and msssim_norm == "none"),
                            points=CURVE_POINTS,
                            backend=backend,
                            zero_last=zero_last,
                        )
                    curves[kept], auc[kept] = found[0].cpu(), found[1].cpu()
            aggregate = aggregate_curves(curves[kept], aggregate_how[name])
            result.curves[key] = curves
            result.auc[key] = auc
            result.skip_reasons[key] = reasons
            result.aggregate_curve[key] = aggregate
            result.aggregate_auc[key] = float(curve_auc(aggregate))
    return result
