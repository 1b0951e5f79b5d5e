"""A study database is only ever extended under the settings its results were made with; damaged,
foreign or unusable files are refused (exit 2, nothing written); a partial study is reported as
incomplete; no bad input reaches the user as a traceback."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
import torch

from idgi_fast.cli import main
from idgi_fast.models.toy import SceneNet
from idgi_fast.study import IncompatibleDatabase, Store, StudyConfig, run_study
from idgi_fast.study.report.tables import build_report

TINY = StudyConfig(
    methods=("ig",),
    steps=(2,),
    images=3,
    images_per_batch=2,
    metrics=("insertion",),
    metric_options={"insertion_levels": 3},
    stability=False,
    preview_images=0,
)
CLI_RUN = ["run", "--images", "2", "--methods", "ig", "--steps", "2", "--information", "entropy"]


def _done(path) -> list[tuple]:
    store = Store(path, "test")
    try:
        return store.results("done")
    finally:
        store.close()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    path = tmp_path_factory.mktemp("integrity") / "study.sqlite"
    run_study(TINY, path, show_progress=False)
    return path


@pytest.mark.parametrize(
    "change, named",
    [
        (
            dict(metric_options={"insertion_levels": 4}),
            "metric_options.insertion_levels is 3 there and 4 now",
        ),
        (dict(metrics=("insertion", "deletion")), "metrics is \\['insertion'\\] there"),
        (dict(backend="reference"), "backend is 'auto' there and 'reference' now"),
        (dict(stability=True), "stability is False there and True now"),
        (dict(only_correct=False), "only_correct"),
    ],
    ids=["a metric option", "the metrics", "the backend", "stability", "the image filter"],
)
def test_other_settings_stop_with_what_differs_and_write_nothing(finished, tmp_path, change, named):
    path = tmp_path / "study.sqlite"
    path.write_bytes(finished.read_bytes())
    before = _done(path)
    with pytest.raises(IncompatibleDatabase, match=f"{named}.*new --db file"):
        run_study(replace(TINY, **change), path, show_progress=False)
    assert _done(path) == before


def test_other_weights_for_the_same_model_are_other_settings(finished, tmp_path):
    path = tmp_path / "study.sqlite"
    path.write_bytes(finished.read_bytes())
    weights = tmp_path / "other.pt"
    torch.save(SceneNet().state_dict(), weights)
    with pytest.raises(IncompatibleDatabase, match="weights.scenenet is 'sha256:"):
        run_study(replace(TINY, weights={"scenenet": str(weights)}), path, show_progress=False)


def test_more_counts_images_and_methods_are_added_not_skipped(finished, tmp_path):
    """Asking a compute_at run for a count it did not yield recomputes it; more images and another
    method are more work; then nothing is missing."""
    path = tmp_path / "study.sqlite"
    path.write_bytes(finished.read_bytes())
    more = replace(TINY, steps=(1, 2), images=4, methods=("ig", "blur_ig"))
    summary = run_study(more, path, show_progress=False)
    assert summary["images_done"] == 4 + 4 and summary["missing"] == []
    store = Store(path, "test")
    try:
        assert store.finished_images("scenenet", "ig", 2, [1, 2]) == {f"scene-1-{i:06d}" for i in range(4)}
    finally:
        store.close()
    assert run_study(more, path, show_progress=False)["images_done"] == 0


def test_a_partial_study_is_reported_as_incomplete(tmp_path, capsys):
    path = tmp_path / "study.sqlite"
    calls = iter(range(100))
    assert run_study(TINY, path, show_progress=False, should_stop=lambda: next(calls) >= 1)["stopped"]
    report = build_report(path)
    assert report.incomplete == "scenenet ig steps=2: 1 of 3 images"
    assert "**Incomplete study.**" in report.markdown()
    assert main(["report", str(path), "--out", str(tmp_path / "report")]) == 0
    assert "the study is incomplete" in capsys.readouterr().err
    run_study(TINY, path, show_progress=False)
    assert build_report(path).incomplete is None


def _damage(path) -> None:
    data = bytearray(path.read_bytes())
    generator = torch.Generator().manual_seed(0)
    middle = len(data) // 2
    data[middle : middle + 2048] = bytes(torch.randint(0, 256, (2048,), generator=generator).tolist())
    path.write_bytes(bytes(data))


def test_a_damaged_database_is_refused_by_run_and_report(finished, tmp_path, capsys):
    path = tmp_path / "study.sqlite"
    path.write_bytes(finished.read_bytes())
    _damage(path)
    damaged = path.read_bytes()
    assert main([*CLI_RUN, "--db", str(path)]) == 2
    assert "is damaged: SQLite's integrity check reports" in capsys.readouterr().err
    assert main(["report", str(path)]) == 2
    assert "is damaged" in capsys.readouterr().err
    assert path.read_bytes() == damaged


def test_unusable_db_paths_exit_2_with_the_fix(tmp_path, capsys):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database\n")
    foreign = tmp_path / "app.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
    cases = [
        (folder, "is a folder; give --db a file path"),
        (text, "is not a SQLite database"),
        (foreign, "database of another application \\(tables users\\)"),
        (text / "study.sqlite", "cannot open or create the database"),
    ]
    for db, message in cases:
        assert main([*CLI_RUN, "--db", str(db)]) == 2, db
        assert pytest.importorskip("re").search(message, capsys.readouterr().err), db
    with sqlite3.connect(foreign) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]
    assert tables == ["users"]  # nothing of ours was added


def test_a_bad_information_axis_stops_before_any_work(tmp_path, capsys):
    db = tmp_path / "study.sqlite"
    with pytest.raises(SystemExit) as stopped:
        main([*CLI_RUN[:-1], "jpeg", "--db", str(db)])
    assert stopped.value.code == 2
    assert "information axes must be a comma-separated subset of entropy,msssim" in capsys.readouterr().err
    assert not db.exists() and not (tmp_path / "study_maps").exists()
    with pytest.raises(ValueError, match="information"):
        StudyConfig(metric_options={"information": ("jpeg",)})


def test_weights_without_a_model_name_apply_to_scenenet(tmp_path, capsys):
    weights = tmp_path / "scenenet.pt"
    weights.write_text("not weights")
    assert main([*CLI_RUN, "--db", str(tmp_path / "s.sqlite"), "--weights", str(weights)]) == 2
    assert f"cannot read weights file {weights}" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()  # refused before the database was created
    assert main([*CLI_RUN, "--db", str(tmp_path / "s.sqlite"), "--weights", "IMAGENET1K_V1"]) == 2
    assert "scenenet take a weights file" in capsys.readouterr().err


def test_every_command_answers_bad_input_with_exit_2_and_a_message(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    cases = [
        (["report", str(tmp_path)], "is a folder"),
        (["report", str(text)], "is not a SQLite database"),
        (["report", str(tmp_path / "none.sqlite")], "no study database at"),
        ([*CLI_RUN, "--data", str(text), "--db", str(tmp_path / "a.sqlite")], "image folder"),
        (["demo", "--first-scene", "-1"], "argument --first-scene: must be an integer ≥ 0, got -1"),
        (["run", "--steps", "0,4"], "steps must be comma-separated positive integers"),
        (["run", "--methods", "sharp_ig"], "methods: sharp_ig not known; a method is one of ig"),
        (["run", "--noise-stdev", "-1"], "expected a finite number ≥ 0, got '-1'"),
    ]
    for argv, message in cases:
        try:
            code = main(argv)
        except SystemExit as stopped:  # argparse's own usage errors
            code = stopped.code
        err = capsys.readouterr().err
        assert code == 2 and message in err and "Traceback" not in err, (argv, err)


def test_a_weights_file_without_a_model_name_is_used_for_scenenet(tmp_path, capsys):
    import json
    import shutil

    from idgi_fast.models.toy import weights_path

    weights = tmp_path / "copy.pt"
    shutil.copy(weights_path(), weights)
    db = tmp_path / "s.sqlite"
    assert main([*CLI_RUN, "--db", str(db), "--weights", str(weights)]) == 0
    with sqlite3.connect(db) as connection:
        (config,) = connection.execute("SELECT config FROM runs").fetchone()
        (settings,) = connection.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    assert json.loads(config)["weights"] == {"scenenet": str(weights)}
    # the copy has the packaged file's content, so it is the same study as the default weights
    assert main([*CLI_RUN, "--db", str(db)]) == 0
    assert json.loads(settings)["weights"]["scenenet"].startswith("sha256:")
    assert "0 image runs done now, 2 already in" in capsys.readouterr().out


def test_a_report_whose_images_moved_says_completeness_was_not_checked(tmp_path):
    root = tmp_path / "val" / "circle"
    root.mkdir(parents=True)
    from PIL import Image

    from idgi_fast.data.scenes import generate_scenes
    from idgi_fast.study.drawing import to_uint8_image

    Image.fromarray(to_uint8_image(generate_scenes(1, seed=1).images[0])).save(root / "a.png")
    path = tmp_path / "study.sqlite"
    run_study(replace(TINY, data_root=str(tmp_path / "val"), images=None), path, show_progress=False)
    assert build_report(path).incomplete is None and build_report(path).unchecked is None
    (tmp_path / "val").rename(tmp_path / "moved")
    report = build_report(path)
    assert report.incomplete is None and "image folder" in report.unchecked
    assert "Completeness was not checked" in report.markdown()
