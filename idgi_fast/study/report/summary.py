"""One pass over a study database for its report: every cell's aggregate (the tables and the
figure) and the claims table (claims.py), each variant's values and curves read once.

The pass goes model by model, method by method, metric by metric, and within a metric variant by
variant, keeping one variant's curves in memory at a time: memory is bounded by the largest
variant, and time is linear in the images (docs/study.md, "At paper scale").

Aggregates (docs/semantics.md §6, docs/study.md §11): the mean over images; JPEG stability, −log10 of the mean
squared difference; SIC, the area under the point-wise median curve; AIC, the area under the mean
curve, which is the mean of the images' areas: of their AIC scores, each the area under the
image's curve (evaluate writes both), so that only SIC's curves are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ...ops.backends import resolve_backend
from ...utils.progress import progress
from ..inputs.recipes import ordered
from ..store.database import Store
from ..store.variants import VariantReader
from .claims import (
    IMPROVED,
    RESAMPLES,
    SEED,
    STABILITY,
    ClaimSpec,
    Resampler,
    claim_row,
    claim_specs,
    curve_areas,
    median_curve,
)


def cells_of(store: Store) -> dict:
    """(model, method, idgi, count) → the run step count that provides it (the largest); a cell
    is one with a score (a study of attributions only has none)."""
    chosen = {}
    names = dict(store.connection.execute("SELECT id, name FROM names").fetchall())
    groups = store.connection.execute(
        "SELECT DISTINCT model, method, steps, idgi, count FROM maps"
    ).fetchall()
    for group in groups:  # one index scan, then a probe per group rather than one per map
        if store.connection.execute(_SCORED, group).fetchone()[0]:
            model, method, steps, idgi, count = group
            key = (names[model], names[method], idgi, count)
            chosen[key] = max(steps, chosen.get(key, steps))
    return chosen


_SCORED = (
    "SELECT EXISTS (SELECT 1 FROM maps m JOIN map_scores s ON s.map = m.id WHERE m.model = ? AND "
    "m.method = ? AND m.steps = ? AND m.idgi = ? AND m.count = ?)"
)


@dataclass
class Summary:
    """values: (model, method, idgi, count, metric) → the cell's aggregate (NaN without images);
    claims: the claims table's rows (empty when not asked for); metrics: every metric the
    database holds a score of (a NULL one included); cells: cells_of's."""

    values: dict = field(default_factory=dict)
    claims: list[dict] = field(default_factory=list)
    metrics: set = field(default_factory=set)
    cells: dict = field(default_factory=dict)

    def value(self, model, method, idgi, count, metric) -> float:
        return self.values.get((model, method, idgi, count, metric), math.nan)


def summarise(
    store: Store,
    cells: dict | None = None,
    claims: bool = True,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Summary:
    """The report's numbers (module docstring); claims=False skips the claims' bootstrap."""
    cells = cells_of(store) if cells is None else cells
    backend = resolve_backend("auto", torch.empty(0))
    reader, resampler = VariantReader(store, backend), Resampler(resamples, seed, backend)
    models = sorted({key[0] for key in cells})
    pairs = [
        (model, method) for model in models for method in ordered(key[1] for key in cells if key[0] == model)
    ]
    summary = Summary(cells=cells)
    for model, method in progress(pairs, desc="report", unit="model×method"):
        variants = {key[2:]: steps for key, steps in cells.items() if key[:2] == (model, method)}
        both = sorted({c for i, c in variants if i == 1} & {c for i, c in variants if i == 0})
        runs = {steps: reader.run_scores(model, method, steps) for steps in set(variants.values())}
        scored = {part: runs[steps].get(part, {}) for part, steps in variants.items()}
        present = set().union(*scored.values())
        summary.metrics |= present
        for metric in [m for m in (*IMPROVED, *STABILITY) if m in present] + sorted(
            present - set(IMPROVED) - set(STABILITY)
        ):
            specs = claim_specs(metric, both) if claims else []
            empty = (np.empty(0, dtype=np.int64), np.empty(0))
            by_part = {part: scored[part].get(metric, empty) for part in variants}
            _metric_pass(reader, resampler, summary, (model, method), variants, by_part, metric, specs)
    return summary


def _metric_pass(
    reader, resampler, summary, pair, variants: dict, scored: dict, metric: str, specs: list[ClaimSpec]
) -> None:
    """One metric of one model and method: every variant's aggregate, then its claims' rows;
    scored: each variant's (images, values) of the metric."""
    wanted = {}  # part → the image sets its claims resample
    images_of = []
    for spec in specs:
        images = _common([scored[part][0] for part in spec.parts])
        images_of.append(images)
        for part in spec.parts:
            wanted.setdefault(part, {})[images.tobytes()] = images
    found = {}
    for part, steps in variants.items():
        variant = (*pair, steps, *part)
        images, values = scored[part]
        table, resampled = _variant(reader, resampler, variant, metric, images, values, wanted.get(part, {}))
        summary.values[(*pair, *part, metric)] = table
        found.update({(part, key): result for key, result in resampled.items()})
    for spec, images in zip(specs, images_of):
        parts = [found[(part, images.tobytes())] for part in spec.parts] if images.size else None
        summary.claims.append(claim_row(*pair, spec, int(images.size), parts))


def _common(sets: list[np.ndarray]) -> np.ndarray:
    """The images (sorted ranks) in every set."""
    common = sets[0]
    for other in sets[1:]:
        common = np.intersect1d(common, other, assume_unique=True)
    return common


def _variant(reader, resampler, variant, metric, images, values, wanted: dict) -> tuple[float, dict]:
    """(the variant's aggregate over its scored images, {image set key: (estimate, resampled)} for
    the claims' image sets)."""
    if not images.size:
        return math.nan, {}
    # AIC's mean curve has the images' mean area: their AIC scores (each image's curve's area)
    if metric.startswith("sic/"):
        curves = reader.curves(variant, metric, images)
        resampled = {}
        for key, subset in wanted.items():
            chosen = curves if subset.size == images.size else curves[np.searchsorted(images, subset)]
            resampled[key] = resampler.aggregate("median_curve", chosen)
        whole = resampled.get(images.tobytes())
        table = whole[0] if whole is not None else float(curve_areas(median_curve(curves)))
        return table, resampled
    kind = "stability" if metric.startswith("stability/") else "mean"
    resampled = {
        key: resampler.aggregate(kind, values[np.searchsorted(images, subset)])
        for key, subset in wanted.items()
    }
    mean = float(np.mean(values))
    if kind == "stability":  # the study's score: −log10 of the mean over pixels and images
        return (math.inf if mean == 0 else -math.log10(mean)), resampled
    return mean, resampled
