"""The study's claims, checked on the database (docs/study.md §11): for each model, method and
step count, the difference IDGI − base of the study's aggregate score, a 95 % bootstrap
confidence interval over images (paired: one resample of images serves every quantity of a
claim), and a verdict.

Claims, each phrased so that a positive difference means it holds:
- "IDGI improves <metric>": insertion (probability) and SIC/AIC on each information axis, at
  every step count: aggregate(IDGI) − aggregate(base);
- "IDGI is more step-sensitive (<metric>)": between the lowest and the highest step count,
  |Δ aggregate(IDGI)| − |Δ aggregate(base)|;
- "IDGI is more JPEG-stable (<normalisation>)": −log10 mean MSE of IDGI − that of base.

Aggregates are the report's: the mean over images (insertion; AIC, whose mean curve's area is
the mean of the images' areas), the area under the point-wise median curve (SIC), −log10 of the
mean squared difference (stability). A claim uses the images that have every value it needs (the
SIC/AIC skip rules look at the image and its canvas only, so they keep the same images for both
variants).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ...ops.resampled_medians import resampled_medians

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
# the resamples are drawn this many index arrays at a time (as one (resamples, n) draw would give them)
DRAW_ELEMENTS = 16_000_000


IMPROVED = {
    "insertion/probability": ("Insertion (probability)", "mean"),
    "sic/entropy": ("SIC, entropy", "median_curve"),
    "aic/entropy": ("AIC, entropy", "mean"),
    "sic/msssim": ("SIC, MS-SSIM", "median_curve"),
    "aic/msssim": ("AIC, MS-SSIM", "mean"),
}
STABILITY = {"stability/mse": "L1-normalised maps", "stability/mse_sum": "sum-normalised maps, the study's"}


@dataclass(frozen=True)
class Interval:
    """A statistic on all images and its percentile bootstrap interval."""

    estimate: float
    low: float
    high: float

    @property
    def verdict(self) -> str:
        """holds when the whole interval is above 0, fails when it is below, else undecided
        (an interval touching 0, or NaN)."""
        if self.low > 0:
            return "holds"
        if self.high < 0:
            return "fails"
        return "undecided"


def resamples_of(n: int, resamples: int = RESAMPLES, seed: int = SEED, chunk: int | None = None):
    """The bootstrap's resamples of n images, (≤ chunk, n) index arrays at a time: numpy's PCG64
    from `seed`, drawn in order, so that every chunking gives the same resamples."""
    generator = np.random.default_rng(seed)
    chunk = chunk or resamples
    for start in range(0, resamples, chunk):
        yield generator.integers(0, n, size=(min(chunk, resamples - start), n))


def percentile_interval(estimate: float, values: np.ndarray, level: float = LEVEL) -> Interval:
    """The (1 ± level)/2 quantiles (numpy's linear interpolation) of the resampled statistic;
    NaN resamples dropped."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return Interval(float(estimate), math.nan, math.nan)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high))


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    chunk: int | None = None,
) -> Interval:
    """statistic(indices (R, n) int) → (R,) values of R resamples of n images. The estimate is the
    statistic on the images as they are; the interval the percentile interval of `resamples`
    resamples with replacement (resamples_of)."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    estimate = float(statistic(np.arange(n)[None])[0])
    values = np.concatenate([statistic(idx) for idx in resamples_of(n, resamples, seed, chunk)])
    return percentile_interval(estimate, values, level)


def curve_areas(curves: np.ndarray) -> np.ndarray:
    """Trapezoid areas of (…, P) curves on the uniform grid of [0, 1] (reference curve_auc)."""
    return (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1])) / (curves.shape[-1] - 1)


def median_curve(curves: np.ndarray) -> np.ndarray:
    """(P,) the point-wise median of (n, P) curves, the mean of the two middle values for even n
    (the report's aggregate_curves, exactly: the same two values and the same arithmetic)."""
    n = curves.shape[0]
    columns = np.partition(curves.T, sorted({(n - 1) // 2, n // 2}), axis=1)
    return 0.5 * (columns[:, (n - 1) // 2] + columns[:, n // 2])


class Resampler:
    """The claims' bootstrap of a variant's aggregate over n images: the statistic on the images
    as they are and on each of `resamples` resamples (resamples_of), all computed from how many
    times each image is drawn — a mean is a matrix-vector product, SIC's median curve the
    resampled-medians op — so that no resample is materialised. The draw counts of the last n
    are kept: every variant of a claim resamples the same images."""

    KEPT = 3  # image counts whose draw counts stay in memory (a model's claims use a few)

    def __init__(self, resamples: int = RESAMPLES, seed: int = SEED, backend: str = "torch"):
        self.resamples, self.seed, self.backend = resamples, seed, backend
        self._counts: dict[int, list] = {}  # n → [int32 tensor, float64 array or None], oldest first

    def counts(self, n: int) -> torch.Tensor:
        """(1 + resamples, n) int32 draw counts: row 0 is the images as they are, row r the r-th
        resample's."""
        if n not in self._counts:
            while len(self._counts) >= self.KEPT:
                del self._counts[next(iter(self._counts))]
            drawn = np.empty((1 + self.resamples, n), dtype=np.int32)
            drawn[0] = 1
            row = 1
            for indices in resamples_of(n, self.resamples, self.seed, max(1, DRAW_ELEMENTS // n)):
                offsets = (np.arange(indices.shape[0]) * n)[:, None]
                flat = np.bincount((indices + offsets).ravel(), minlength=indices.shape[0] * n)
                drawn[row : row + indices.shape[0]] = flat.reshape(indices.shape[0], n)
                row += indices.shape[0]
            self._counts[n] = [torch.from_numpy(drawn), None]
        self._counts[n] = self._counts.pop(n)  # the most recently used goes last
        return self._counts[n][0]

    def _weights(self, n: int) -> np.ndarray:
        """The draw counts as float64, for the means' matrix-vector product."""
        drawn = self.counts(n)
        if self._counts[n][1] is None:
            self._counts[n][1] = drawn.numpy().astype(np.float64)
        return self._counts[n][1]

    def aggregate(self, kind: str, data: np.ndarray) -> tuple[float, np.ndarray]:
        """(the aggregate of the images as they are, its (resamples,) resampled values): data
        (n,) per-image values (kind "mean" or "stability") or (n, P) curves ("median_curve")."""
        if kind == "median_curve":
            medians = resampled_medians(torch.from_numpy(data), self.counts(data.shape[0]), self.backend)
            areas = curve_areas(medians.numpy())
            return float(areas[0]), areas[1:]
        values = self._weights(data.shape[0]) @ data / data.shape[0]
        if kind == "stability":
            with np.errstate(divide="ignore"):
                values = -np.log10(values)
        return float(values[0]), values[1:]


@dataclass(frozen=True)
class ClaimSpec:
    """One row of the claims table: its quantities' (idgi, count) variants of one model, method
    and metric, and how their aggregates combine into the difference."""

    claim: str
    steps: str
    parts: tuple[tuple[int, int], ...]
    metric: str
    kind: str
    combine: Callable


def claim_specs(metric: str, counts: list[int]) -> list[ClaimSpec]:
    """The claims on `metric` for a model and method with both variants at `counts` (sorted), in
    the table's order: the improvement at each count, then the step sensitivity."""
    specs = []
    if metric in IMPROVED:
        title, kind = IMPROVED[metric]
        for count in counts:
            specs.append(
                ClaimSpec(
                    f"IDGI improves {title}", str(count), ((1, count), (0, count)), metric, kind, _difference
                )
            )
        if len(counts) > 1:
            low, high = counts[0], counts[-1]
            parts = tuple((v, n) for v in (1, 0) for n in (high, low))
            claim = f"IDGI is more step-sensitive ({title})"
            specs.append(ClaimSpec(claim, f"{low}→{high}", parts, metric, kind, _sensitivity_difference))
    elif metric in STABILITY:
        for count in counts:
            claim = f"IDGI is more JPEG-stable ({STABILITY[metric]})"
            specs.append(
                ClaimSpec(claim, str(count), ((1, count), (0, count)), metric, "stability", _difference)
            )
    return specs


def claim_row(model: str, method: str, spec: ClaimSpec, images: int, found: list | None) -> dict:
    """The table's row of one claim; found: each part's (estimate, resampled values), None
    without images."""
    if found:
        estimate = spec.combine([f[0] for f in found])
        interval = percentile_interval(estimate, spec.combine([f[1] for f in found]))
    else:
        interval = Interval(math.nan, math.nan, math.nan)
    return {
        "model": model,
        "method": method,
        "claim": spec.claim,
        "steps": spec.steps,
        "IDGI − base": interval.estimate,
        "95% low": interval.low,
        "95% high": interval.high,
        "verdict": interval.verdict,
        "images": images,
    }


def _difference(a):
    return a[0] - a[1]


def _sensitivity_difference(a):
    return np.abs(a[0] - a[1]) - np.abs(a[2] - a[3])
