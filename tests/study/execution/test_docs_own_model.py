"""docs/own-model.md runs as written: its Python blocks (a block opening with `# NAME.py` is that
file, written for the commands), then its bash blocks' `idgi-fast` commands, in a fresh folder.
The block that names torchvision is run by the zoo suite (test_zoo_transformers, its 2-image
vit_b_16 study); ```text blocks are shown, not run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from conftest import OWN_MODEL_PAGE as PAGE
from conftest import page_blocks

from idgi_fast.cli import main


def _run_page(folder: Path, monkeypatch, wanted) -> int:
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    ran = 0
    for language, code in page_blocks():
        if not wanted(code) or language == "text":
            continue
        first = code.splitlines()[0]
        if language == "python" and re.fullmatch(r"# [\w/]+\.py", first):
            Path(first[2:]).write_text(code)
        elif language == "python":
            exec(compile(code, str(PAGE), "exec"), {"__name__": "docs_example"})
        else:
            for line in code.splitlines():
                if line.startswith("idgi-fast "):
                    assert main(shlex.split(line)[1:]) == 0, line
        ran += 1
    return ran


def test_the_pages_examples_run_as_written(tmp_path, monkeypatch, capsys):
    assert _run_page(tmp_path, monkeypatch, lambda code: "torchvision:" not in code) == 4
    out = capsys.readouterr().out
    assert "24 image runs done; nothing missing" in out  # 12 cells × IG (one compute_at run) and Blur IG
    assert (tmp_path / "cells" / "report.md").is_file() and (tmp_path / "spec" / "report.md").is_file()
    assert "Localization" in (tmp_path / "spec" / "report.md").read_text()
    assert "Localization" in (tmp_path / "cells" / "report.md").read_text()


def test_every_run_block_is_one_of_the_two_kinds():
    kinds = {language for language, _ in page_blocks()}
    assert kinds <= {"python", "bash", "text"}, kinds
    if not page_blocks():
        pytest.fail("the page has no examples")
