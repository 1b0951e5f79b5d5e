"""The study's claims, checked on the database (docs/semantics.md §11): for each model, method and
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

from ..recipes import RECIPE_NAMES
from .store import Store

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
# SIC's median curves are bootstrapped this many array elements at a time (resamples × images × points)
CHUNK_ELEMENTS = 32_000_000

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


def bootstrap_interval(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    level: float = LEVEL,
    chunk: int | None = None,
) -> Interval:
    """statistic(indices (R, n) int) → (R,) values of R resamples of n images. The estimate is the
    statistic on the images as they are; the interval the (1 ± level)/2 quantiles (numpy's linear
    interpolation) of `resamples` resamples with replacement drawn by numpy's PCG64 from `seed`."""
    if n == 0:
        return Interval(math.nan, math.nan, math.nan)
    estimate = float(statistic(np.arange(n)[None])[0])
    indices = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    chunk = chunk or resamples
    values = np.concatenate([statistic(indices[i : i + chunk]) for i in range(0, resamples, chunk)])
    values = values[~np.isnan(values)]
    if values.size == 0:
        return Interval(estimate, math.nan, math.nan)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(estimate, float(low), float(high))


def _auc(curves: np.ndarray) -> np.ndarray:
    """Trapezoid areas of (…, P) curves on the uniform grid of [0, 1] (reference curve_auc)."""
    return (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1])) / (curves.shape[-1] - 1)


def _aggregate(kind: str, data: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(R,) aggregates of R resamples: data (n,) per-image values, or (n, P) curves."""
    if kind == "mean":
        return data[indices].mean(axis=1)
    if kind == "stability":
        mean = data[indices].mean(axis=1)
        with np.errstate(divide="ignore"):
            return -np.log10(mean)
    return _auc(np.median(data[indices], axis=1))  # median_curve


class _Values:
    """Per-image values and curves of one database, fetched once per (model, method, count)."""

    def __init__(self, store: Store, cells: dict):
        self.store, self.cells = store, cells

    def values(self, model, method, idgi, count, metric) -> dict[str, float]:
        steps = self.cells.get((model, method, idgi, count))
        if steps is None:
            return {}
        rows = self.store.connection.execute(
            "SELECT image, value FROM scores WHERE model = ? AND method = ? AND steps = ? AND idgi = ? "
            "AND count = ? AND metric = ? AND value IS NOT NULL",
            (model, method, steps, idgi, count, metric),
        )
        return dict(rows.fetchall())

    def curves(self, model, method, idgi, count, metric) -> dict[str, np.ndarray]:
        steps = self.cells.get((model, method, idgi, count))
        if steps is None:
            return {}
        rows = self.store.connection.execute(
            "SELECT c.image, c.points FROM curves c JOIN scores s USING (model, method, steps, idgi, count, "
            "image) WHERE c.model = ? AND c.method = ? AND c.steps = ? AND c.idgi = ? AND c.count = ? "
            "AND c.curve = ? AND s.metric = ? AND s.value IS NOT NULL",
            (model, method, steps, idgi, count, metric, metric),
        )
        return {image: np.frombuffer(points, dtype=np.float64) for image, points in rows.fetchall()}

    def data(self, kind, model, method, idgi, count, metric):
        if kind == "median_curve":
            return self.curves(model, method, idgi, count, metric)
        return self.values(model, method, idgi, count, metric)


def _paired(parts: list[dict]) -> tuple[list[np.ndarray], int]:
    """The parts' arrays over the images every part has, in one order."""
    common = sorted(set.intersection(*(set(part) for part in parts))) if parts else []
    return [np.array([part[image] for image in common], dtype=np.float64) for part in parts], len(common)


def _chunk(kind: str, n: int, points: int, resamples: int) -> int:
    return max(1, CHUNK_ELEMENTS // max(1, n * points)) if kind == "median_curve" else resamples


def study_claims(store: Store, cells: dict, resamples: int = RESAMPLES, seed: int = SEED) -> list[dict]:
    """Rows of the claims table (module docstring) for every model and method with both variants."""
    fetch = _Values(store, cells)
    models = sorted({key[0] for key in cells})
    methods = [m for m in RECIPE_NAMES if any(key[1] == m for key in cells)]
    present = {row[0] for row in store.connection.execute("SELECT DISTINCT metric FROM scores")}
    rows = []

    def add(model, method, claim, steps, parts, kind, combine):
        arrays, n = _paired(parts)
        points = arrays[0].shape[-1] if arrays and arrays[0].ndim == 2 else 1
        interval = bootstrap_interval(
            lambda idx: combine([_aggregate(kind, a, idx) for a in arrays]),
            n,
            resamples,
            seed,
            chunk=_chunk(kind, n, points, resamples),
        )
        rows.append(
            {
                "model": model,
                "method": method,
                "claim": claim,
                "steps": steps,
                "IDGI − base": interval.estimate,
                "95% low": interval.low,
                "95% high": interval.high,
                "verdict": interval.verdict,
                "images": n,
            }
        )

    for model in models:
        for method in methods:
            counts = sorted(
                {key[3] for key in cells if key[:2] == (model, method)}
                & {key[3] for key in cells if key[:3] == (model, method, 1)}
                & {key[3] for key in cells if key[:3] == (model, method, 0)}
            )
            if not counts:
                continue
            for metric, (title, kind) in IMPROVED.items():
                if metric not in present:
                    continue
                for count in counts:
                    parts = [fetch.data(kind, model, method, v, count, metric) for v in (1, 0)]
                    add(
                        model,
                        method,
                        f"IDGI improves {title}",
                        str(count),
                        parts,
                        kind,
                        lambda a: a[0] - a[1],
                    )
                if len(counts) > 1:
                    low, high = counts[0], counts[-1]
                    parts = [
                        fetch.data(kind, model, method, v, n, metric) for v in (1, 0) for n in (high, low)
                    ]
                    add(
                        model,
                        method,
                        f"IDGI is more step-sensitive ({title})",
                        f"{low}→{high}",
                        parts,
                        kind,
                        lambda a: np.abs(a[0] - a[1]) - np.abs(a[2] - a[3]),
                    )
            for metric, title in STABILITY.items():
                if metric not in present:
                    continue
                for count in counts:
                    parts = [fetch.values(model, method, v, count, metric) for v in (1, 0)]
                    add(
                        model,
                        method,
                        f"IDGI is more JPEG-stable ({title})",
                        str(count),
                        parts,
                        "stability",
                        lambda a: a[0] - a[1],
                    )
    return rows
