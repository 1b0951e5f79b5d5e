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
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..progress import progress
from ..recipes import ordered
from .store import Store

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
# SIC's median curves are bootstrapped this many array elements at a time (resamples × images × points)
CHUNK_ELEMENTS = 32_000_000
WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


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
    """Per-image values (or kept curves) of one database's cells, by (model, method, idgi, count)."""

    def __init__(self, store: Store, cells: dict):
        self.store, self.cells = store, cells

    def data(self, kind, model, method, idgi, count, metric):
        steps = self.cells.get((model, method, idgi, count))
        if steps is None:
            return {}
        if kind == "median_curve":
            return self.store.kept_curves(model, method, steps, idgi, count, metric)
        return self.store.image_scores(model, method, steps, idgi, count, metric)


def _coarse(kind: str, array: np.ndarray, estimate: float, stride: int) -> tuple[np.ndarray, float]:
    """What the resamples use — SIC's curves every `stride`-th grid point (1: all of them, the
    exact statistic) — and the shift that centres their statistic on the full grid's (the coarse
    grid's AUC has a bias of its own; the shift removes it from the interval)."""
    if kind != "median_curve" or stride == 1 or (array.shape[-1] - 1) % stride:
        return array, 0.0
    coarse = array[:, ::stride]
    return coarse, estimate - float(_aggregate(kind, coarse, np.arange(array.shape[0])[None])[0])


def _chunk(n: int, points: int) -> int:
    """Resamples per chunk: CHUNK_ELEMENTS array elements (resamples × images × curve points)
    over the threads, so that memory does not grow with them."""
    return max(1, CHUNK_ELEMENTS // (WORKERS * max(1, n * points)))


def _in_threads(work: Callable, items) -> list:
    """work(item) for each item, in order, on WORKERS threads (numpy's partition and reductions
    release the GIL), at most WORKERS items in flight; the items are drawn in order from this
    thread, so the resamples are the same as one thread's."""
    if WORKERS == 1:
        return [work(item) for item in items]
    results, pending = [], []
    with ThreadPoolExecutor(WORKERS) as pool:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= WORKERS:
                results.append(pending.pop(0).result())
        results += [future.result() for future in pending]
    return results


def study_claims(
    store: Store, cells: dict, resamples: int = RESAMPLES, seed: int = SEED, stride: int = 1
) -> list[dict]:
    """Rows of the claims table (module docstring) for every model and method with both variants.
    `stride` > 1 takes SIC's median curves every stride-th grid point inside the resamples (a
    stride-th of the work, an approximation measured in docs/semantics.md §11); the estimates
    keep the full grid.

    Each variant's aggregate over one set of images is resampled once and shared by every claim
    that uses it (the improvement at a count and the step sensitivity); the same seed and image
    count give the same resamples, so the claims stay paired."""
    fetch = _Values(store, cells)
    models = sorted({key[0] for key in cells})
    methods = ordered(key[1] for key in cells)
    present = {row[0] for row in store.connection.execute("SELECT DISTINCT metric FROM scores")}
    fetched, resampled = {}, {}
    rows = []

    def data(kind, part):
        if (kind, part) not in fetched:
            fetched[(kind, part)] = fetch.data(kind, *part)
        return fetched[(kind, part)]

    def aggregates(kind, part, images: tuple) -> tuple[float, np.ndarray]:
        """(the aggregate over `images`, its (resamples,) resampled values)."""
        key = (kind, part, images)
        if key not in resampled:
            found = data(kind, part)
            array = np.array([found[image] for image in images], dtype=np.float64)
            n, points = len(images), array.shape[-1] if array.ndim == 2 else 1
            estimate = float(_aggregate(kind, array, np.arange(n)[None])[0])
            coarse, shift = _coarse(kind, array, estimate, stride)
            chunks = resamples_of(n, resamples, seed, _chunk(n, points))
            values = np.concatenate(_in_threads(lambda idx: _aggregate(kind, coarse, idx), chunks))
            resampled[key] = (estimate, values + shift)
        return resampled[key]

    def add(model, method, claim, steps, parts, kind, combine):
        """parts: (model, method, idgi, count, metric) of each quantity; combine: their statistic."""
        images = tuple(sorted(set.intersection(*(set(data(kind, part)) for part in parts))))
        if images:
            found = [aggregates(kind, part, images) for part in parts]
            interval = percentile_interval(combine([f[0] for f in found]), combine([f[1] for f in found]))
        else:
            interval = Interval(math.nan, math.nan, math.nan)
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
                "images": len(images),
            }
        )

    pairs = [(model, method) for model in models for method in methods]
    for model, method in progress(pairs, desc="claims", unit="model×method"):
        counts = sorted(
            {key[3] for key in cells if key[:3] == (model, method, 1)}
            & {key[3] for key in cells if key[:3] == (model, method, 0)}
        )
        if not counts:
            continue
        for metric, (title, kind) in IMPROVED.items():
            if metric not in present:
                continue
            for count in counts:
                parts = [(model, method, v, count, metric) for v in (1, 0)]
                add(model, method, f"IDGI improves {title}", str(count), parts, kind, _difference)
            if len(counts) > 1:
                low, high = counts[0], counts[-1]
                parts = [(model, method, v, n, metric) for v in (1, 0) for n in (high, low)]
                claim = f"IDGI is more step-sensitive ({title})"
                add(model, method, claim, f"{low}→{high}", parts, kind, _sensitivity_difference)
        for metric, title in STABILITY.items():
            if metric not in present:
                continue
            for count in counts:
                parts = [(model, method, v, count, metric) for v in (1, 0)]
                claim = f"IDGI is more JPEG-stable ({title})"
                add(model, method, claim, str(count), parts, "stability", _difference)
    return rows


def _difference(a):
    return a[0] - a[1]


def _sensitivity_difference(a):
    return np.abs(a[0] - a[1]) - np.abs(a[2] - a[3])
