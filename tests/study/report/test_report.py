"""The study's report from its database: tables that aggregate it, and what to run when there is
nothing to report."""

from __future__ import annotations

import pytest

from idgi_fast.study import Store
from idgi_fast.study.store.curves import decode_curve


def test_report_tables_aggregate_the_database(uninterrupted, tmp_path):
    """Insertion cells are the mean of the per-image scores; SIC cells the AUC of the median curve
    of the kept images; sensitivity is the difference of the two counts; files are written."""
    import math

    import numpy as np
    import torch
    from PIL import Image

    from idgi_fast.reference.metrics.pic import aggregate_curves, curve_auc
    from idgi_fast.study.report.tables import study_tables, write_report

    path, _ = uninterrupted
    store = Store(path, "test")
    try:
        tables = {table.name: table for table in study_tables(store)}
        rows = store.connection.execute(
            "SELECT value FROM scores WHERE method = 'ig' AND idgi = 1 AND count = 2 "
            "AND metric = 'insertion/probability'"
        ).fetchall()
        curves = store.connection.execute(
            "SELECT c.points FROM curves c JOIN scores s USING (model, method, steps, idgi, count, image) "
            "WHERE c.method = 'guided_ig' AND c.idgi = 0 AND c.count = 4 AND c.curve = 'sic/entropy' "
            "AND s.metric = 'sic/entropy' AND s.value IS NOT NULL"
        ).fetchall()
    finally:
        store.close()
    assert math.isclose(
        tables["insertion_probability_steps2"].rows[0]["IG + IDGI"],
        sum(v for (v,) in rows) / len(rows),
        rel_tol=1e-12,
    )
    median = aggregate_curves(torch.from_numpy(np.stack([decode_curve(p) for (p,) in curves])), "median")
    assert math.isclose(
        tables["sic_entropy_steps4"].rows[0]["Guided IG"], float(curve_auc(median)), rel_tol=1e-12
    )
    sensitivity = tables["insertion_probability_sensitivity_2_4"].rows[0]["IG"]
    assert math.isclose(
        sensitivity,
        tables["insertion_probability_steps4"].rows[0]["IG"]
        - tables["insertion_probability_steps2"].rows[0]["IG"],
        rel_tol=1e-12,
        abs_tol=1e-15,
    )
    written = write_report(path, tmp_path / "report", resamples=200)
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert markdown.count("### ") == len(tables) and "## The study's claims" in markdown
    assert all(p.exists() for p in written)
    # the claims: per method, insertion and SIC at each count and their step sensitivity, stability
    # under both normalisations at each count; the insertion claim is the difference of the cells
    import csv

    with open(tmp_path / "report" / "claims.csv") as handle:
        claims = list(csv.DictReader(handle))
    assert len(claims) == 2 * (2 + 1 + 2 + 1 + 2 * 2)
    insertion = next(
        row
        for row in claims
        if row["method"] == "ig"
        and row["steps"] == "4"
        and row["claim"] == "IDGI improves Insertion (probability)"
    )
    cells = tables["insertion_probability_steps4"].rows[0]
    assert math.isclose(float(insertion["IDGI − base"]), cells["IG + IDGI"] - cells["IG"], rel_tol=1e-9)
    assert float(insertion["95% low"]) <= float(insertion["IDGI − base"]) <= float(insertion["95% high"])
    with Image.open(tmp_path / "report" / "scores_vs_steps.png") as figure:
        # insertion, deletion and SIC (entropy): one row of three 380×300 panels over a 2-row legend
        assert figure.size == (3 * 380, 300 + 12 + 2 * 22)


def test_report_of_a_missing_or_empty_database_says_what_to_run(tmp_path):
    from idgi_fast.study.report.tables import write_report

    with pytest.raises(FileNotFoundError, match="idgi-fast run --db"):
        write_report(tmp_path / "none.sqlite", tmp_path)
    Store(tmp_path / "empty.sqlite", "test").close()
    with pytest.raises(ValueError, match="holds no scores yet"):
        write_report(tmp_path / "empty.sqlite", tmp_path)
