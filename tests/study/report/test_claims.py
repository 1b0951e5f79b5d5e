"""The claims table (docs/study.md §11): the percentile bootstrap against hand-computed
cases, the verdict at its boundaries, and paired differences read from a database whose answer
is known exactly."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest

from idgi_fast.study.report.claims import Interval, bootstrap_interval
from idgi_fast.study.report.summary import summarise
from idgi_fast.study.store.database import ImageResult, Store


def test_the_bootstrap_of_a_mean_is_the_exact_resampling_distribution():
    """Three images valued 1, 2 and 6: a resample mean is 1 (or 6) with probability 1/27 > 2.5 %,
    so the 95 % interval is [1, 6] and the estimate 3; the distribution of 20 000 resample means
    matches the 27 equally likely index triples."""
    values = np.array([1.0, 2.0, 6.0])
    found = bootstrap_interval(lambda idx: values[idx].mean(axis=1), 3, resamples=20_000)
    assert (found.estimate, found.low, found.high) == (3.0, 1.0, 6.0)
    seen = []
    bootstrap_interval(lambda idx: seen.append(values[idx].mean(axis=1)) or seen[-1], 3, resamples=20_000)
    drawn = np.concatenate(seen)[1:]  # the first call is the estimate's
    exact = [values[list(triple)].mean() for triple in product(range(3), repeat=3)]
    for mean in set(exact):
        assert np.isclose(drawn, mean).mean() == pytest.approx(np.isclose(exact, mean).mean(), abs=0.01)
    # one image: every resample is that image
    single = bootstrap_interval(lambda idx: values[:1][idx].mean(axis=1), 1)
    assert (single.estimate, single.low, single.high) == (1.0, 1.0, 1.0)
    # the seed fixes the interval; chunking the resamples does not change it
    again = bootstrap_interval(lambda idx: values[idx].mean(axis=1), 3, resamples=999, chunk=100)
    whole = bootstrap_interval(lambda idx: values[idx].mean(axis=1), 3, resamples=999)
    assert again == whole


@pytest.mark.parametrize(
    "low,high,verdict",
    [
        (1e-12, 1.0, "holds"),
        (0.0, 1.0, "undecided"),
        (-1.0, 0.0, "undecided"),
        (-1.0, -1e-12, "fails"),
        (-0.5, 0.5, "undecided"),
        (math.nan, math.nan, "undecided"),
    ],
)
def test_the_verdict_needs_the_whole_interval_on_one_side_of_zero(low, high, verdict):
    assert Interval(0.0, low, high).verdict == verdict


def _database(path, images=12):
    """IG ± IDGI at counts 4 and 8: IDGI's insertion is base's + 0.1 at 4 and + 0.3 at 8 (base
    the same at both), its SIC curves base's + 0.2, its mean squared JPEG difference a tenth of
    base's; every image different, so an unpaired bootstrap would be wide."""
    store = Store(path, "test")
    rng = np.random.default_rng(1)
    base_insertion = rng.uniform(0.2, 0.6, images)
    base_curves = rng.uniform(0.0, 0.7, (images, 11))
    base_mse = rng.uniform(1e-6, 1e-4, images)
    results = {}
    for i, count in product(range(images), (4, 8)):
        image = f"img{i:02d}"
        shift = {4: 0.1, 8: 0.3}[count]
        result = results.setdefault(image, ImageResult(image))
        for idgi in (0, 1):
            result.scores.append((idgi, count, "insertion/probability", base_insertion[i] + idgi * shift))
            result.scores.append(
                (idgi, count, "sic/entropy", 0.5)
            )  # a kept image: the value only needs to be set
            result.scores.append((idgi, count, "stability/mse", base_mse[i] / (10 if idgi else 1)))
            result.curves.append((idgi, count, "sic/entropy", base_curves[i] + 0.2 * idgi))
    store.record(store.start_run({}, {}, "cpu"), "toy", "ig", 8, results.values(), 0.0)
    return store


def test_claims_are_paired_differences_of_the_studys_aggregates(tmp_path):
    store = _database(tmp_path / "claims.sqlite")
    try:
        rows = {(row["claim"], row["steps"]): row for row in summarise(store, resamples=200).claims}
    finally:
        store.close()

    def check(claim, steps, value):
        row = rows[(claim, steps)]
        assert row["images"] == 12
        for column in ("IDGI − base", "95% low", "95% high"):
            assert row[column] == pytest.approx(value, abs=1e-12), (claim, steps, column)
        assert row["verdict"] == ("holds" if value > 0 else "fails")

    check("IDGI improves Insertion (probability)", "4", 0.1)
    check("IDGI improves Insertion (probability)", "8", 0.3)
    check("IDGI is more step-sensitive (Insertion (probability))", "4→8", 0.2)
    check("IDGI improves SIC, entropy", "8", 0.2)  # a shifted curve's median shifts too
    check("IDGI is more JPEG-stable (L1-normalised maps)", "4", 1.0)
    assert ("IDGI improves AIC, entropy", "4") not in rows  # no AIC scores in this database
