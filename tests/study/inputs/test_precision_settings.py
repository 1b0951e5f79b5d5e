"""The study's precision and channels-last settings: they reach explain and every scoring pass,
they are part of the study's identity (a database made under one is refused under another, and
one made before they were recorded counts as fp32, contiguous), and bad values are named."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
import torch
from conftest import SMALL_STUDY
from conftest import study_results as results

from idgi_fast.study import IncompatibleDatabase, Store, StudyConfig, run_study
from idgi_fast.study.report.tables import build_report

SMALL = replace(SMALL_STUDY, methods=("ig",), steps=(2,), images=3, images_per_batch=3, stability=False)


def _scores(path) -> dict:
    return {tuple(row[:7]): row[7] for row in results(path)["scores"]}


def test_bad_precision_and_channels_last_are_named():
    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'tf32', 'bf16'\)"):
        StudyConfig(precision="half")
    with pytest.raises(TypeError, match="channels_last must be True or False"):
        StudyConfig(channels_last="yes")


def test_a_bf16_study_is_recorded_as_one_and_stays_close_to_fp32(tmp_path):
    exact, fast = tmp_path / "fp32.sqlite", tmp_path / "bf16.sqlite"
    run_study(SMALL, exact, show_progress=False)
    run_study(replace(SMALL, precision="bf16"), fast, show_progress=False)
    assert Store(fast, "test").settings()["precision"] == "bf16"
    want, got = _scores(exact), _scores(fast)
    assert want.keys() == got.keys()
    moved = {key: abs(got[key] - want[key]) for key in want if key[6].startswith(("insertion", "deletion"))}
    # bf16 reaches the maps and the scores; at 2 steps a moved map can move an AUC by a few hundredths
    assert 0 < max(moved.values()) < 0.15
    gaps = [value for key, value in got.items() if key[6] == "completeness_gap" and key[3] == 1]
    assert max(gaps) < 1e-4  # IDGI is complete for the function evaluated under autocast
    with pytest.raises(IncompatibleDatabase, match="precision is 'bf16' there and 'fp32' now"):
        run_study(SMALL, fast, show_progress=False)
    assert f"{fast}: 3 images (the model at bf16)." in build_report(fast).markdown()
    assert f"{exact}: 3 images. Columns" in build_report(exact).markdown()


def test_channels_last_weights_give_the_contiguous_study_to_rounding(tmp_path):
    from idgi_fast.study.inputs.named_models import named_subjects

    built = named_subjects(replace(SMALL, channels_last=True))[0][0].build(torch.device("cpu"))
    kernels = [p for p in built.parameters() if p.ndim == 4]
    assert kernels and all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels)
    assert not next(iter(kernels)).is_contiguous()  # so the conversion did something
    plain, last = tmp_path / "plain.sqlite", tmp_path / "last.sqlite"
    run_study(SMALL, plain, show_progress=False)
    run_study(replace(SMALL, channels_last=True), last, show_progress=False)
    want, got = _scores(plain), _scores(last)
    assert want.keys() == got.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    with pytest.raises(IncompatibleDatabase, match="channels_last is True there and False now"):
        run_study(SMALL, last, show_progress=False)


def test_a_database_from_before_the_precision_setting_counts_as_fp32(tmp_path):
    db = tmp_path / "old.sqlite"
    run_study(replace(SMALL, images=2), db, show_progress=False)
    store = Store(db, "test")
    old = {k: v for k, v in store.settings().items() if k not in ("precision", "channels_last")}
    store.record_settings(old)
    store.close()
    summary = run_study(SMALL, db, show_progress=False)  # extended at fp32: accepted
    assert summary["images_done"] == 1
    with sqlite3.connect(db) as connection:
        (value,) = connection.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    assert '"precision": "fp32"' in value
    with pytest.raises(IncompatibleDatabase, match="precision is 'fp32' there and 'bf16' now"):
        run_study(replace(SMALL, precision="bf16"), db, show_progress=False)
