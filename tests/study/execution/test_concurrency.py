"""Two `idgi-fast run` processes on one database: the second is refused with who holds it, the
first finishes with every row once, and the lock goes with the process that held it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from idgi_fast.cli import main
from idgi_fast.study import Store, run_study
from idgi_fast.study.execution.lock import DatabaseBusy, exclusive_run

ARGV = ["run", "--images", "3", "--images-per-batch", "1", "--methods", "ig", "--steps", "2", "--information"]
ARGV += ["entropy"]

# the first run: the CLI's own config, held at its second batch until the test says go
FIRST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from idgi_fast.cli import build_parser
    from idgi_fast.cli.study_config import study_config as _study_config
    from idgi_fast.study import run_study

    argv, folder = sys.argv[1:-1], Path(sys.argv[-1])
    args = build_parser().parse_args(argv)
    calls = []

    def gate():
        calls.append(1)
        if len(calls) == 2:  # one batch is written; hold the database
            (folder / "ready").touch()
            deadline = time.monotonic() + 300
            while not (folder / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        return False

    summary = run_study(_study_config(args), args.db, show_progress=False, should_stop=gate)
    print(summary["images_done"])
    """
)


def _wait_for(path, process, seconds=300.0):
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"the first run ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the first run did not reach its second batch")
        time.sleep(0.05)


def test_a_second_run_on_the_same_database_is_refused_and_the_first_finishes(tmp_path, capsys):
    db = tmp_path / "study.sqlite"
    argv = [*ARGV, "--db", str(db)]
    first = subprocess.Popen(
        [sys.executable, "-c", FIRST, *argv, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(tmp_path / "ready", first)
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"is in use by another `idgi-fast run` (pid {first.pid} on " in err and "Traceback" not in err
        assert "wait for it to finish, or give this run another --db" in err
        with pytest.raises(DatabaseBusy):
            from idgi_fast.cli import build_parser
            from idgi_fast.cli.study_config import study_config as _study_config

            run_study(_study_config(build_parser().parse_args(argv)), db, show_progress=False)
    finally:
        (tmp_path / "go").touch()
        out, errors = first.communicate(timeout=300)
    assert first.returncode == 0, errors
    assert out.split()[-1] == "3"  # the first run did all three images
    store = Store(db, "test")
    try:
        done = store.results("done")
        assert sorted(row[3] for row in done) == [f"scene-1-{i:06d}" for i in range(3)]  # once each
    finally:
        store.close()
    assert main(argv) == 0  # the lock went with the first process: a re-run finds nothing to do
    assert "0 image runs done now, 3 already in" in capsys.readouterr().out


def test_a_killed_run_leaves_no_lock_behind(tmp_path, capsys):
    db = tmp_path / "study.sqlite"
    argv = [*ARGV, "--db", str(db)]
    first = subprocess.Popen([sys.executable, "-c", FIRST, *argv, str(tmp_path)], stderr=subprocess.PIPE)
    _wait_for(tmp_path / "ready", first)
    first.kill()  # SIGKILL: no handler runs, the operating system drops the lock
    first.wait(timeout=60)
    assert main(argv) == 0  # resumes: the batch the first run wrote is kept, the rest is done now
    assert "2 image runs done now, 1 already in" in capsys.readouterr().out


def test_the_lock_names_its_holder_and_is_free_again_after(tmp_path):
    db = tmp_path / "study.sqlite"
    with exclusive_run(db):
        with pytest.raises(DatabaseBusy, match=r"in use by another `idgi-fast run` \(pid \d+ on "):
            with exclusive_run(db):
                pass
    with exclusive_run(db):  # released at the end of the block, and again free
        pass
    assert (tmp_path / "study.sqlite.lock").read_text() == ""
