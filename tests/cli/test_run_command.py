"""idgi-fast run and report from the command line: presets, estimates, fitted schedules, the
flags that reach the study's settings, and bad input named."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from conftest import SMALL_STUDY as SMALL
from conftest import study_results as results
from conftest import study_tables_of

from idgi_fast.study import Store, StudyConfig, run_study


def _scores(path) -> dict:
    return {tuple(row[:7]): row[7] for row in results(path)["scores"]}


def test_the_paper_preset_runs_with_overrides_and_needs_an_image_folder(tmp_path, capsys):
    """--preset paper: the study's metrics and options; flags beside it (models, images, steps)
    override it; its zoo models without --data stop with the fix."""
    from idgi_fast.cli import main
    from idgi_fast.study.inputs.config import PRESETS

    db = tmp_path / "paper.sqlite"
    argv = ["run", "--preset", "paper", "--db", str(db)]
    assert main(argv) == 2
    assert "give the ImageNet validation folder (--data FOLDER)" in capsys.readouterr().err
    assert main([*argv, "--models", "scenenet", "--images", "2", "--steps", "2,4", "--methods", "ig"]) == 0
    store = Store(db, "test")
    try:
        settings = store.settings()
        keys = set(store.connection.execute("SELECT DISTINCT steps, count, metric FROM scores").fetchall())
    finally:
        store.close()
    paper = PRESETS["paper"]
    assert settings["metrics"] == sorted(paper["metrics"]) and settings["stability"] is True
    assert settings["metric_options"] == {**paper["metric_options"], "information": ["entropy", "msssim"]}
    assert {(steps, count) for steps, count, _ in keys} == {(4, 2), (4, 4)}
    assert {metric for *_, metric in keys} >= {"sic/msssim", "aic/entropy", "stability/mse_sum"}
    assert not any(metric.startswith("deletion") for *_, metric in keys)  # not a score the study reports
    assert paper["steps"] == (8, 16, 32, 64, 128) and len(paper["models"]) == 10


def test_an_estimate_projects_the_run_without_writing_it(tmp_path):
    """--estimate on 2 of 4 images: the projection is of the order of the measured run (loose
    bounds: timings on a shared machine; bench/RESULTS.md has the measured ratio), the database
    size too, and the database is not created; for a finished database nothing is left to do."""
    from idgi_fast.study.execution.estimate import estimate_study

    config = replace(SMALL, images=4, images_per_batch=4)
    db = tmp_path / "estimated.sqlite"
    found = estimate_study(config, db, probe=2)
    assert not db.exists() and found.probe_images == 2
    assert {(row["method"], row["steps"]) for row in found.rows} == {
        ("ig", 4),
        ("guided_ig", 2),
        ("guided_ig", 4),
    }
    assert all(row["images"] == 4 and row["s/image"] > 0 for row in found.rows)
    started = time.perf_counter()
    run_study(config, db, show_progress=False)
    measured = time.perf_counter() - started
    assert 0.33 < found.seconds / measured < 3.0, (found.seconds, measured)
    assert 0.5 < found.database_bytes / db.stat().st_size < 2.0
    done = estimate_study(config, db, probe=1)
    assert all(row["images"] == 0 for row in done.rows) and done.seconds < found.seconds


def test_the_estimate_command_prints_the_projection(tmp_path, capsys):
    from idgi_fast.cli import main

    db = tmp_path / "e.sqlite"
    assert (
        main(["run", "--db", str(db), "--images", "2", "--steps", "2", "--methods", "ig", "--estimate", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "estimate on cpu from the first 1 image(s)" in out and "projected:" in out and "database" in out
    assert not db.exists()


def test_a_fitted_schedule_runs_beside_the_uniform_counts(tmp_path, capsys):
    """schedule fit → run --schedule: <method>@<stem> at the schedule's m beside the uniform runs,
    IDGI complete, in the report; a re-run does nothing; a schedule for another model or method
    is refused."""
    pytest.importorskip("scipy")
    from idgi_fast.cli import main
    from idgi_fast.schedules import Schedule

    fitted = tmp_path / "s4.json"
    argv = ["schedule", "fit", "--method", "ig", "--steps", "4", "--images", "2", "--grid-steps", "16"]
    assert main([*argv, "--out", str(fitted)]) == 0
    schedule = Schedule.load(fitted)
    assert schedule.method == "ig" and schedule.steps == 4 and schedule.params == {"rule": "left"}
    db = tmp_path / "s.sqlite"
    run = [
        "run",
        "--db",
        str(db),
        "--images",
        "2",
        "--steps",
        "4",
        "--methods",
        "ig",
        "--schedule",
        str(fitted),
    ]
    assert main(run) == 0
    found = _scores(db)
    assert {(key[1], key[2], key[4]) for key in found} == {("ig", 4, 4), ("ig@s4", 4, 4)}
    gaps = [v for k, v in found.items() if k[1] == "ig@s4" and k[3] == 1 and k[6] == "completeness_gap"]
    assert len(gaps) == 2 and max(gaps) < 1e-5
    assert "IG (schedule s4) + IDGI" in study_tables_of(db)
    capsys.readouterr()
    assert main(run) == 0 and "0 image runs done now" in capsys.readouterr().out
    other = Schedule((0.0, 0.5, 1.0), method="blur_ig", model="resnet50")
    other.save(tmp_path / "other.json")
    assert main([*run[:-1], str(tmp_path / "other.json")]) == 2
    assert "was fitted for resnet50" in capsys.readouterr().err
    with pytest.raises(ValueError, match="schedule 's4' was fitted for ig, not blur_ig"):
        StudyConfig(
            methods=("blur_ig@s4",), schedules={"s4": {"method": "ig", "positions": [0, 1], "params": {}}}
        )


def test_the_commands_run_report_and_name_bad_input(tmp_path, capsys):
    from idgi_fast.cli import main

    db = tmp_path / "cli" / "study.sqlite"
    assert (
        main(
            [
                "run",
                "--db",
                str(db),
                "--images",
                "2",
                "--methods",
                "ig",
                "--steps",
                "2",
                "--information",
                "entropy",
            ]
        )
        == 0
    )
    assert "finished: 2 image runs done now" in capsys.readouterr().out
    assert main(["report", str(db)]) == 0
    assert (db.parent / "report.md").read_text().startswith("# Study report")
    assert main(["run", "--db", str(db), "--data", str(tmp_path / "nowhere")]) == 2
    assert "image folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--steps", "0,4"])


def test_the_run_command_names_what_a_zoo_model_lacks(tmp_path, capsys):
    from idgi_fast.cli import main
    from idgi_fast.models.zoo import ZooUnavailable, check_zoo_available

    assert main(["run", "--models", "resnet50", "--db", str(tmp_path / "s.sqlite")]) == 2
    assert "give the ImageNet validation folder (--data FOLDER)" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                "--models",
                "resnet50",
                "--data",
                str(tmp_path / "nowhere"),
                "--db",
                str(tmp_path / "s.sqlite"),
            ]
        )
        == 2
    )
    try:
        check_zoo_available()
        assert "image folder" in capsys.readouterr().err
    except ZooUnavailable:
        assert "pip install 'idgi-fast[zoo]'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "--models", "resnet18"])


def test_no_graphs_reaches_the_config_and_leaves_the_identity_alone():
    from idgi_fast.cli import build_parser
    from idgi_fast.cli.study_config import study_config as _study_config
    from idgi_fast.study.inputs.named_models import data_identity, named_subjects
    from idgi_fast.study.store.identity import study_settings

    base = ["run", "--db", "x.sqlite", "--images", "2", "--steps", "2", "--methods", "ig"]
    default = _study_config(build_parser().parse_args(base))
    off = _study_config(build_parser().parse_args([*base, "--no-graphs"]))
    assert default.graphs is None and off.graphs is False
    assert study_settings(default, named_subjects(default)[0], data_identity(default)) == study_settings(
        off, named_subjects(off)[0], data_identity(off)
    )


def test_precision_and_channels_last_reach_the_config_and_the_identity(capsys):
    from idgi_fast.cli import build_parser, main
    from idgi_fast.cli.study_config import study_config as _study_config
    from idgi_fast.study.inputs.named_models import data_identity, named_subjects
    from idgi_fast.study.store.identity import study_settings

    base = ["run", "--db", "x.sqlite", "--images", "2", "--steps", "2", "--methods", "ig"]
    default = _study_config(build_parser().parse_args(base))
    chosen = _study_config(build_parser().parse_args([*base, "--precision", "bf16", "--channels-last"]))
    assert (default.precision, default.channels_last) == ("fp32", False)
    assert (chosen.precision, chosen.channels_last) == ("bf16", True)
    found = study_settings(chosen, named_subjects(chosen)[0], data_identity(chosen))
    assert (found["precision"], found["channels_last"]) == ("bf16", True)
    with pytest.raises(SystemExit):
        main([*base, "--precision", "fp16"])
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_road_runs_in_the_study_and_is_reported_with_its_curves(tmp_path, capsys):
    from idgi_fast.cli import main
    from idgi_fast.reference.metrics.road import ROAD_SCORES

    db = tmp_path / "road" / "study.sqlite"
    argv = ["run", "--db", str(db), "--images", "3", "--methods", "ig", "--steps", "4", "--metrics", "road"]
    assert main([*argv, "--road-percentages", "10,50,90", "--road-noise", "0"]) == 0
    assert Store(db, "test").settings()["metric_options"]["road_percentages"] == [10.0, 50.0, 90.0]
    scores = results(db)["scores"]
    metrics = {row[6] for row in scores if row[6].startswith("road/")}
    assert metrics == {f"road/{order}/{score}" for order in ("morf", "lerf") for score in ROAD_SCORES}
    assert main(["report", str(db)]) == 0
    report = (db.parent / "report.md").read_text()
    assert "ROAD MoRF: area under the target's probability" in report and "road_curves.png" in report
    assert (db.parent / "road_curves.png").stat().st_size > 0
    capsys.readouterr()
    assert main([*argv, "--road-percentages", "50,10"]) == 2
    assert "road_percentages must be sorted" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--road-percentages", "ten"])
