"""The study database's compact storage (schema 2): curves kept as the points where they bend
give every point back, a schema 1 database (written by the previous version, tests/data/schema1)
opens migrated and reports the same numbers, and a failed migration leaves it as it was."""

from __future__ import annotations

import csv
import gzip
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import synthetic_study

from idgi_fast.ops.information_curves import normalised_curves_torch
from idgi_fast.study import Store
from idgi_fast.study.report.tables import write_report
from idgi_fast.study.store.curves import BENDS, DENSE, MISSING, decode_curve, encode_curve

SCHEMA_1 = Path(__file__).resolve().parents[2] / "data" / "schema1"


def _pic_curves(rows: int, levels: int = 25, seed: int = 0) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    x = torch.sort(torch.rand(rows, levels, generator=generator, dtype=torch.float64), dim=1).values
    y = torch.rand(rows, levels, generator=generator, dtype=torch.float64)
    return normalised_curves_torch(x, y, 1000)[0].numpy()


def test_pic_curves_are_kept_as_their_bends_and_come_back_to_1e_12():
    curves = _pic_curves(64)
    for curve in curves:
        blob = encode_curve(curve)
        assert blob[0] == BENDS and len(blob) < curve.nbytes / 8
        np.testing.assert_allclose(decode_curve(blob), curve, rtol=0, atol=1e-12)


def test_other_curves_are_dense_or_missing_and_exact():
    noisy = np.random.default_rng(0).normal(size=1001)
    assert encode_curve(noisy)[0] == DENSE and np.array_equal(decode_curve(encode_curve(noisy)), noisy)
    short = np.array([0.1, 0.7, 0.2])
    assert np.array_equal(decode_curve(encode_curve(short)), short)
    skipped = np.full(1001, np.nan)
    assert encode_curve(skipped)[0] == MISSING and len(encode_curve(skipped)) == 3
    assert (
        np.isnan(decode_curve(encode_curve(skipped))).all()
        and decode_curve(encode_curve(skipped)).size == 1001
    )
    with pytest.raises(ValueError, match="not a stored curve"):
        decode_curve(bytes([7, 3, 0]))


def _schema_1_copy(folder: Path) -> Path:
    path = folder / "study.sqlite"
    path.write_bytes(gzip.decompress((SCHEMA_1 / "study.sqlite.gz").read_bytes()))
    return path


def _numbers(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def _same(got: str, want: str) -> bool:
    try:
        a, b = float(got), float(want)
    except ValueError:
        return got == want
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-6 * max(1.0, abs(b))


def test_a_schema_1_database_opens_migrated_and_reports_the_same_numbers(tmp_path):
    path = _schema_1_copy(tmp_path)
    store = Store(path, "test")
    try:
        version = store.connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[
            0
        ]
        views = {
            row[0] for row in store.connection.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
        }
        assert version == "2" and views == {"scores", "curves", "skips", "done", "images"}
        assert len(store.results("done")) == 2
    finally:
        store.close()
    written = write_report(path, tmp_path / "report", resamples=1000)
    tables = sorted(SCHEMA_1.glob("*.csv"))
    assert tables and {p.name for p in tables} <= {p.name for p in written}
    for table in tables:
        got, want = _numbers(tmp_path / "report" / table.name), _numbers(table)
        assert len(got) == len(want) and all(len(a) == len(b) for a, b in zip(got, want)), table.name
        for row_got, row_want in zip(got, want):
            assert all(_same(a, b) for a, b in zip(row_got, row_want)), (table.name, row_got, row_want)


def test_a_failed_migration_leaves_the_schema_1_database_as_it_was(tmp_path, monkeypatch):
    from idgi_fast.study.store import schema

    path = _schema_1_copy(tmp_path)
    calls = iter(range(1000))

    def failing(points):
        if next(calls) == 5:
            raise RuntimeError("the disk went away")
        return encode_curve(points)

    monkeypatch.setattr(schema, "encode_curve", failing)
    with pytest.raises(RuntimeError, match="the disk went away"):
        Store(path, "test")
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        curves = connection.execute("SELECT COUNT(*) FROM curves").fetchone()[0]
    assert version == "1" and {"scores", "curves", "done"} <= tables and "maps" not in tables and curves == 16


def test_the_synthetic_study_has_the_paper_presets_shape_and_reports(tmp_path):
    """bench/study/synthetic.py at a tiny size: every (method, steps, idgi, count) of the paper
    grid for each image, the report's tables and claims from it, and compact curves."""
    found = synthetic_study(tmp_path / "study.sqlite", images=3)
    assert found["maps"] == 3 * 30  # 3 methods × ± IDGI × 5 counts
    store = Store(tmp_path / "study.sqlite", "test")
    try:
        keys = store.connection.execute("SELECT DISTINCT method, steps, idgi, count FROM scores").fetchall()
        blobs = store.connection.execute(
            "SELECT AVG(LENGTH(points)) FROM curves WHERE curve LIKE 'sic/%'"
        ).fetchone()
    finally:
        store.close()
    assert len(keys) == 30 and blobs[0] < 1001 * 8 / 10
    written = write_report(tmp_path / "study.sqlite", tmp_path / "report", resamples=50)
    assert tmp_path / "report" / "claims.csv" in written
