"""`idgi-fast demo` end to end on a small setting, through the command-line entry point."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from idgi_fast.cli import main


def test_demo_writes_figure_table_and_results(tmp_path, capsys):
    assert main(["demo", "--images", "2", "--steps", "4", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for title in ("IG", "IG + IDGI", "Blur IG", "Blur IG + IDGI", "Guided IG", "Guided IG + IDGI"):
        assert f"| {title} " in printed
    figure = Image.open(tmp_path / "demo_saliency.png")
    assert figure.size[0] > 7 * 224 and figure.size[1] > 2 * 224  # input + six maps, two rows
    results = json.loads((tmp_path / "demo_results.json").read_text())
    rows = {row["method"]: row for row in results["rows"]}
    assert len(rows) == 6
    for method in ("IG + IDGI", "Blur IG + IDGI", "Guided IG + IDGI"):
        assert rows[method]["abs gap"] < 1e-5  # IDGI completeness, float32
        assert 0.0 <= rows[method]["energy-in-mask"] <= 1.0
    assert rows["IG"]["evals/image"] == 5 and rows["Guided IG"]["evals/image"] == 5


def test_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--methods", "ig,smoothgrad"])
    assert "methods must be a comma-separated subset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--steps", "0"])
