"""Bad input on the command line's newer surface, one table: `run --schedule`, `--estimate`,
`--methods` recipes, `--noise-*`, `--preset`, `schedule fit` and `report` (its `--resamples`, an
empty file, a file that is not a database). Every row exits 2 with one error line that says what
is wrong and how to fix it, shows no traceback, and writes nothing: no database, no lock file,
no schedule file, and an empty file stays empty. The database's own damage and settings cases are
in test_study_integrity.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from idgi_fast.cli import main

RUN = ["run", "--images", "2", "--methods", "ig", "--steps", "2", "--information", "entropy"]
FIT = ["schedule", "fit", "--method", "ig", "--steps", "2", "--images", "1", "--grid-steps", "4"]


def schedule_file(folder: Path, name: str = "s.json", **fields) -> str:
    data = {"format": 1, "positions": [0.0, 0.25, 1.0], "method": "ig", "params": {"rule": "left"}, **fields}
    path = folder / name
    path.write_text(json.dumps({k: v for k, v in data.items() if v is not None}))
    return str(path)


def text_file(folder: Path, name: str, content: str = "") -> str:
    path = folder / name
    path.write_text(content)
    return str(path)


def run(folder: Path, *extra: str) -> list[str]:
    return [*RUN, "--db", str(folder / "study.sqlite"), *extra]


CASES = [
    (
        "schedule missing",
        lambda t: run(t, "--schedule", str(t / "none.json")),
        r"none.json is not a readable",
    ),
    (
        "schedule not JSON",
        lambda t: run(t, "--schedule", text_file(t, "s.json", "{positions")),
        r"s.json is not a readable schedule file",
    ),
    (
        "schedule without positions",
        lambda t: run(t, "--schedule", schedule_file(t, positions=None)),
        r"s.json is not a valid schedule file: .*missing \['positions'\]",
    ),
    (
        "schedule positions a string",
        lambda t: run(t, "--schedule", schedule_file(t, positions="0,1")),
        r"positions must be a list of numbers",
    ),
    (
        "schedule decreasing",
        lambda t: run(t, "--schedule", schedule_file(t, positions=[0, 0.7, 0.4, 1])),
        r"s.json is not a valid schedule file: schedule must be strictly increasing",
    ),
    (
        "schedule of another model",
        lambda t: run(t, "--schedule", schedule_file(t, model="resnet50")),
        r"--schedule .*s.json was fitted for resnet50, which is not among \['scenenet'\]",
    ),
    (
        "schedule of an unknown method",
        lambda t: run(t, "--schedule", schedule_file(t, method="lime")),
        r"s.json is not a valid schedule file: method must be one of",
    ),
    (
        "two schedules of one name",
        lambda t: run(t, "--schedule", schedule_file(t), "--schedule", schedule_file(t / "more", "s.json")),
        r"another schedule file is also named 's'.*rename one of them",
    ),
    (
        "estimate 0",
        lambda t: run(t, "--estimate", "0"),
        r"argument --estimate: must be an integer ≥ 1, got 0",
    ),
    (
        "estimate x",
        lambda t: run(t, "--estimate", "x"),
        r"argument --estimate: must be an integer ≥ 1, got x",
    ),
    ("methods unknown", lambda t: run(t, "--methods", "lime"), r"methods: lime not known; a method is one"),
    ("methods tunnel over xrai", lambda t: run(t, "--methods", "smoothgrad:xrai:ig"), r"not known"),
    ("methods two tunnels", lambda t: run(t, "--methods", "smoothgrad:vargrad:ig"), r"not known"),
    ("methods xrai alone", lambda t: run(t, "--methods", "xrai:"), r"methods: xrai: not known"),
    ("methods none", lambda t: run(t, "--methods", ","), r"methods: ',' not known"),
    ("methods unknown schedule", lambda t: run(t, "--methods", "ig@s4"), r"methods: ig@s4 not known"),
    ("steps not dividing", lambda t: run(t, "--steps", "3,8"), r"every step count must divide the largest"),
    ("noise samples 0", lambda t: run(t, "--noise-samples", "0"), r"--noise-samples: must be an integer ≥ 1"),
    (
        "noise stdev -1",
        lambda t: run(t, "--noise-stdev", "-1"),
        r"--noise-stdev: expected a finite number ≥ 0",
    ),
    ("noise stdev nan", lambda t: run(t, "--noise-stdev", "nan"), r"expected a finite number ≥ 0, got 'nan'"),
    ("noise stdev inf", lambda t: run(t, "--noise-stdev", "inf"), r"expected a finite number ≥ 0, got 'inf'"),
    ("noise seed -1", lambda t: run(t, "--noise-seed", "-1"), r"--noise-seed: must be an integer ≥ 0"),
    (
        "noise seed 2**64",
        lambda t: run(t, "--noise-seed", str(2**64), "--methods", "smoothgrad:ig"),
        r"noise seed must be an int in \[0, 2",
    ),
    (
        "noise flags without a tunnel",
        lambda t: run(t, "--noise-stdev", "0.3", "--noise-seed", "4"),
        r"--noise-stdev, --noise-seed set the noise tunnels, but no method runs under one",
    ),
    ("preset unknown", lambda t: run(t, "--preset", "full"), r"--preset: invalid choice: 'full'"),
    (
        "preset paper without data",
        lambda t: ["run", "--db", str(t / "study.sqlite"), "--preset", "paper"],
        r"classify ImageNet images: give the ImageNet validation folder \(--data FOLDER\)",
    ),
    (
        "preset paper on scenes without --images",
        lambda t: ["run", "--db", str(t / "study.sqlite"), "--preset", "paper", "--models", "scenenet"],
        r"no image folder is given: pass --data FOLDER, or --images N",
    ),
    (
        "fit without method",
        lambda t: ["schedule", "fit", "--steps", "2", "--out", "x"],
        r"required: --method",
    ),
    (
        "fit steps 0",
        lambda t: ["schedule", "fit", "--method", "ig", "--steps", "0", "--out", str(t / "s.json")],
        r"--steps: must be an integer ≥ 1",
    ),
    ("fit no out", lambda t: FIT, r"the following arguments are required: --out"),
    (
        "fit out in a missing folder",
        lambda t: [*FIT, "--out", str(t / "none" / "s.json")],
        r"--out .*none/s.json: give a file path in an existing folder",
    ),
    ("fit out a folder", lambda t: [*FIT, "--out", str(t)], r"give a file path in an existing folder"),
    ("fit grid too coarse", lambda t: [*FIT[:-1], "3", "--out", str(t / "s.json")], r"at least twice steps"),
    (
        "fit zoo model on scenes",
        lambda t: [*FIT, "--model", "resnet50", "--out", str(t / "s.json")],
        r"needs torchvision|give an image folder with --data",
    ),
    (
        "fit weights not a state dict",
        lambda t: [*FIT, "--weights", text_file(t, "w.pt", "junk"), "--out", str(t / "s.json")],
        r"cannot read weights file .*w.pt",
    ),
    ("fit data missing", lambda t: [*FIT, "--data", str(t / "x"), "--out", str(t / "s.json")], r"not found"),
    ("report resamples 0", lambda t: ["report", str(t / "r.sqlite"), "--resamples", "0"], r"integer ≥ 1"),
    (
        "report export format",
        lambda t: ["report", str(t / "r.sqlite"), "--export", "csv"],
        r"invalid choice: 'csv'",
    ),
    (
        "report resamples x",
        lambda t: ["report", str(t / "r.sqlite"), "--resamples", "x"],
        r"integer ≥ 1, got x",
    ),
    (
        "report an empty file",
        lambda t: ["report", text_file(t, "empty.sqlite")],
        r"empty.sqlite is an empty file, not a study yet: run `idgi-fast run --db",
    ),
    (
        "report a text file",
        lambda t: ["report", text_file(t, "notes.sqlite", "not a database\n")],
        r"notes.sqlite is not a SQLite database",
    ),
    (
        "run into a text file",
        lambda t: run(t)[:-2] + ["--db", text_file(t, "notes.sqlite", "not a database\n")],
        r"notes.sqlite is not a SQLite database",
    ),
]


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("argv_of, message", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_exits_2_with_one_message_and_writes_nothing(tmp_path, capsys, argv_of, message):
    (tmp_path / "more").mkdir()
    argv = argv_of(tmp_path)
    before = _files(tmp_path)
    try:
        code = main(argv)
    except SystemExit as stopped:  # argparse's usage errors
        code = stopped.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and "Traceback" not in err, err
    assert len(errors) == 1 and re.search(message, errors[0]), err
    assert _files(tmp_path) == before  # no database, lock or schedule file; an empty file stays empty


def test_an_estimate_only_reads_the_database_even_an_empty_file(tmp_path, capsys):
    empty = Path(text_file(tmp_path, "study.sqlite"))
    assert main([*RUN, "--db", str(empty), "--estimate", "1"]) == 0
    assert "projected:" in capsys.readouterr().out
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["study.sqlite"]
