"""The report's one pass (study/report/summary.py) against the definitions it replaces, on a synthetic
study of the paper preset's shape: each cell as the reference aggregates the kept curves, each
claim's interval as the bootstrap over materialised resamples computes it; and the Parquet
export, row for row."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from conftest import synthetic_study

from idgi_fast.cli import main
from idgi_fast.reference.metrics.pic import aggregate_curves, curve_auc
from idgi_fast.study import Store
from idgi_fast.study.report.claims import percentile_interval, resamples_of
from idgi_fast.study.report.summary import summarise
from idgi_fast.study.store.curves import decode_curve

RESAMPLES = 60


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    path = tmp_path_factory.mktemp("summary") / "study.sqlite"
    synthetic_study(path, images=24)
    return path


def _kept(store, method, steps, idgi, count, metric):
    """image → (score, curve or None) of one variant, NULL scores left out, by name."""
    rows = store.connection.execute(
        "SELECT s.image, s.value, c.points FROM scores s LEFT JOIN curves c ON c.model = s.model AND "
        "c.method = s.method AND c.steps = s.steps AND c.idgi = s.idgi AND c.count = s.count AND "
        "c.image = s.image AND c.curve = s.metric WHERE s.method = ? AND s.steps = ? AND s.idgi = ? AND "
        "s.count = ? AND s.metric = ? AND s.value IS NOT NULL ORDER BY s.image",
        (method, steps, idgi, count, metric),
    ).fetchall()
    return {image: (value, None if points is None else decode_curve(points)) for image, value, points in rows}


def test_cells_are_the_reference_aggregates(study):
    store = Store(study, "test")
    try:
        summary = summarise(store, claims=False)
        for method, steps, idgi, count in [
            ("ig", 128, 1, 8),
            ("guided_ig", 32, 0, 32),
            ("blur_ig", 128, 0, 128),
        ]:
            model = next(k[0] for k in summary.values)
            sic = _kept(store, method, steps, idgi, count, "sic/entropy")
            curves = torch.from_numpy(np.stack([curve for _, curve in sic.values()]))
            want = float(curve_auc(aggregate_curves(curves, "median")))
            assert summary.value(model, method, idgi, count, "sic/entropy") == pytest.approx(want, abs=1e-12)
            aic = _kept(store, method, steps, idgi, count, "aic/msssim")
            curves = torch.from_numpy(np.stack([curve for _, curve in aic.values()]))
            want = float(curve_auc(aggregate_curves(curves, "mean")))
            assert summary.value(model, method, idgi, count, "aic/msssim") == pytest.approx(want, abs=1e-12)
            mse = [value for value, _ in _kept(store, method, steps, idgi, count, "stability/mse").values()]
            want = -math.log10(np.mean(mse))
            assert summary.value(model, method, idgi, count, "stability/mse") == pytest.approx(
                want, abs=1e-12
            )
    finally:
        store.close()


def test_claims_are_the_bootstrap_over_materialised_resamples(study):
    """SIC's claim at 16 steps and insertion's step sensitivity, recomputed the plain way: the
    same resamples (resamples_of) as index arrays, np.median of the indexed curves, their areas."""
    store = Store(study, "test")
    try:
        rows = {
            (r["method"], r["claim"], r["steps"]): r for r in summarise(store, resamples=RESAMPLES).claims
        }
        sic = [_kept(store, "ig", 128, idgi, 16, "sic/entropy") for idgi in (1, 0)]
        images = sorted(set(sic[0]) & set(sic[1]))
        areas = []
        for found in sic:
            curves = np.stack([found[image][1] for image in images])
            resampled = np.concatenate(
                [np.median(curves[idx], axis=1) for idx in resamples_of(len(images), RESAMPLES)]
            )
            whole = np.median(curves, axis=0)
            areas.append([_area(whole), _area(resampled)])
        want = percentile_interval(areas[0][0] - areas[1][0], areas[0][1] - areas[1][1])
        row = rows[("ig", "IDGI improves SIC, entropy", "16")]
        assert row["images"] == len(images)
        for column, value in (("IDGI − base", want.estimate), ("95% low", want.low), ("95% high", want.high)):
            assert row[column] == pytest.approx(value, abs=1e-12)
        parts = [
            _kept(store, "guided_ig", n, idgi, n, "insertion/probability")
            for idgi in (1, 0)
            for n in (128, 8)
        ]
        images = sorted(set.intersection(*(set(part) for part in parts)))
        means = [np.array([part[image][0] for image in images]) for part in parts]
        draws = np.concatenate(list(resamples_of(len(images), RESAMPLES)))
        sampled = [values[draws].mean(axis=1) for values in means]
        estimate = abs(means[0].mean() - means[1].mean()) - abs(means[2].mean() - means[3].mean())
        want = percentile_interval(
            estimate, np.abs(sampled[0] - sampled[1]) - np.abs(sampled[2] - sampled[3])
        )
        row = rows[("guided_ig", "IDGI is more step-sensitive (Insertion (probability))", "8→128")]
        for column, value in (("IDGI − base", want.estimate), ("95% low", want.low), ("95% high", want.high)):
            assert row[column] == pytest.approx(value, abs=1e-12)
    finally:
        store.close()


def _area(curves: np.ndarray) -> np.ndarray:
    return (curves.sum(axis=-1) - 0.5 * (curves[..., 0] + curves[..., -1])) / (curves.shape[-1] - 1)


def test_the_parquet_export_holds_every_score(study, tmp_path, capsys):
    import pyarrow.parquet as pq

    assert (
        main(["report", str(study), "--out", str(tmp_path), "--resamples", "20", "--export", "parquet"]) == 0
    )
    assert f"scores: {tmp_path / 'scores.parquet'}" in capsys.readouterr().out
    table = pq.read_table(tmp_path / "scores.parquet").to_pylist()
    store = Store(study, "test")
    try:
        want = store.connection.execute(
            "SELECT model, method, steps, idgi, count, image, metric, value FROM scores"
        ).fetchall()
    finally:
        store.close()
    got = [
        (r["model"], r["method"], r["steps"], int(r["idgi"]), r["count"], r["image"], r["metric"], r["value"])
        for r in table
    ]
    assert sorted(got, key=str) == sorted(want, key=str) and len(got) == len(want)
    assert any(value is None for *_, value in got)  # a skipped image's SIC is null, not NaN


def test_a_missing_pyarrow_is_named_before_the_report_runs(study, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert main(["report", str(study), "--out", str(tmp_path), "--export", "parquet"]) == 2
    assert "pip install 'idgi-fast[parquet]'" in capsys.readouterr().err
    assert not (tmp_path / "report.md").exists()
