"""Beyond CNNs: torchvision's vision transformer and ConvNeXt, with random weights, through
explain (every method ± IDGI, the engine against the reference) and evaluate at a small size,
and vit_b_16 itself in a 2-image study given by import spec (`--model torchvision:vit_b_16`);
timm's models by spec.

Marked `zoo`: `make test-zoo` runs them in .venv-zoo, where torchvision (and timm) import."""

from __future__ import annotations

import shlex
import sqlite3

import pytest
import torch
from conftest import needs_torchvision

from idgi_fast import evaluate, explain

SIZE = 32


def _small(name: str):
    """torchvision's VisionTransformer and ConvNeXt classes at a size the CPU suite affords (the
    same layers as vit_b_16 and convnext_tiny: patch embedding, attention, LayerNorm, GELU, a class
    token; depthwise convolutions, LayerNorm2d, layer scale), behind the study's normaliser."""
    from torchvision.models import VisionTransformer
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    from idgi_fast.models.adapt import StudyModel

    torch.manual_seed(0)
    if name == "vit":
        network = VisionTransformer(
            image_size=SIZE,
            patch_size=8,
            num_layers=2,
            num_heads=2,
            hidden_dim=32,
            mlp_dim=64,
            num_classes=10,
        )
    else:
        network = ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)], num_classes=10)
    return StudyModel(network, ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))).eval()


def _images(count: int, size: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return (torch.rand(count, 3, size, size, generator=generator) * 255).round() / 255


@needs_torchvision
@pytest.mark.parametrize("name", ["vit", "convnext"])
@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
def test_transformers_are_explained_by_the_engine_as_by_the_reference(name, method):
    """Two images, 8 steps: the engine's base and IDGI maps equal the reference's (§7 tolerances)
    and IDGI sums to F(x) − F(x′)."""
    model = _small(name)
    images = _images(2, SIZE)
    target = torch.tensor([3, 7])
    fast = explain(model, images, target=target, method=method, steps=8, idgi=True)
    oracle = explain(model, images, target=target, method=method, steps=8, idgi=True, backend="reference")
    for idgi in (False, True):
        got, want = fast.attribution(idgi=idgi), oracle.attribution(idgi=idgi)
        error = float((got - want).norm() / want.norm().clamp_min(1e-30))
        assert error <= (1e-3 if method == "guided_ig" else 1e-4), (idgi, error)
    with torch.no_grad():
        scale = float((model(images) - model(torch.zeros_like(images))).abs().max())
    assert float(fast.completeness_gap(idgi=True).max()) <= 1e-4 * max(scale, 1.0)


@needs_torchvision
@pytest.mark.parametrize("name", ["vit", "convnext"])
def test_transformer_maps_are_scored_by_evaluate(name):
    """evaluate scores a transformer's maps as the reference evaluation does."""
    model = _small(name)
    images = _images(2, SIZE)
    target = torch.tensor([1, 2])
    found = explain(model, images, target=target, method="ig", steps=4, idgi=True)
    options = dict(
        insertion_levels=4, pic_levels=4, information=("entropy",), min_pred=0.0, show_progress=False
    )
    metrics = ["insertion", "deletion", "sic"]
    fast = evaluate(model, images, found.idgi, target, metrics, **options)
    oracle = evaluate(model, images, found.idgi, target, metrics, backend="reference", **options)
    for key in ("insertion/probability", "deletion/probability"):
        torch.testing.assert_close(fast.per_image[key], oracle.per_image[key], rtol=1e-5, atol=1e-6)
        assert bool(((fast.per_image[key] >= 0) & (fast.per_image[key] <= 1)).all()), key


@needs_torchvision
def test_the_docs_torchvision_command_runs_as_written(tmp_path, monkeypatch, capsys):
    """docs/own-model.md's `--model torchvision:…` command, in a fresh folder."""
    from conftest import page_blocks

    from idgi_fast.cli import main

    (command,) = [code.strip() for kind, code in page_blocks() if kind == "bash" and "torchvision:" in code]
    monkeypatch.chdir(tmp_path)
    assert main(shlex.split(command)[1:]) == 0
    assert "finished: 2 image runs done now" in capsys.readouterr().out


@needs_torchvision
def test_a_two_image_study_over_torchvision_vit_b_16(tmp_path, capsys):
    """`idgi-fast run --model torchvision:vit_b_16 --weights FILE` on 2 synthetic scenes (224 px,
    its crop), resumed, then `report`: the study's loop, store and report on a transformer. The
    file holds random weights with a random head (torchvision initialises it to zeros, which
    would make every attribution 0)."""
    from torchvision.models import vit_b_16

    from idgi_fast.cli import main

    torch.manual_seed(0)
    network = vit_b_16()
    torch.nn.init.normal_(network.heads.head.weight, std=0.05)
    weights = tmp_path / "vit.pt"
    torch.save(network.state_dict(), weights)
    db = tmp_path / "vit.sqlite"
    flags = ["--model", "torchvision:vit_b_16", "--weights", str(weights), "--images", "2", "--steps", "2"]
    flags += ["--methods", "ig", "--keep-misclassified", "--metrics", "insertion", "--db", str(db)]
    assert main(["run", *flags]) == 0
    assert "finished: 2 image runs done now" in capsys.readouterr().out
    with sqlite3.connect(db) as connection:
        models = connection.execute("SELECT DISTINCT model FROM done").fetchall()
        versions = connection.execute("SELECT versions FROM runs").fetchone()[0]
        scores = dict(
            connection.execute(
                "SELECT metric || '/' || idgi, MAX(value) FROM scores GROUP BY metric, idgi"
            ).fetchall()
        )
    assert models == [("torchvision:vit_b_16",)] and "torchvision" in versions
    assert (
        scores["completeness_gap/1"] < 1e-4 < scores["completeness_gap/0"]
    )  # IDGI sums up; IG at 2 steps not
    assert 0 < scores["stability/mse/1"] < float("inf")
    assert main(["run", *flags]) == 0  # resumed: nothing left
    assert "0 image runs done now, 2 already" in capsys.readouterr().out
    assert main(["report", str(db)]) == 0
    assert (db.parent / "report.md").is_file()


@needs_torchvision
def test_torchvision_specs_take_their_weights_transform_and_refuse_unknown_names():
    from idgi_fast.models.specs import resolve_spec

    with pytest.raises(ValueError, match="not a torchvision classification model; choose one of.*vit_b_16"):
        resolve_spec("torchvision:vit_b_99", "random")
    with pytest.raises(ValueError, match="has no weights 'IMAGENET9K'; choose one of IMAGENET1K_V1"):
        resolve_spec("torchvision:vit_b_16", "IMAGENET9K")
    efficient = resolve_spec("torchvision:efficientnet_b3", "random")
    assert (efficient.model.resize, efficient.model.crop, efficient.model.interpolation) == (
        320,
        300,
        "bicubic",
    )
    assert efficient.classes is not None and len(efficient.classes) == 1000


@needs_torchvision
def test_timm_models_by_spec_take_their_pretrained_config():
    pytest.importorskip("timm")
    from idgi_fast.models.specs import resolve_spec

    torch.manual_seed(0)
    resolved = resolve_spec("timm:vit_tiny_patch16_224", "random")
    model = resolved.model
    assert (model.crop, model.resize) == (224, 248) and resolved.package == "timm"
    with torch.no_grad():
        assert model(_images(1, 224)).shape == (1, 1000)
    with pytest.raises(ValueError, match="timm:no_such_model"):
        resolve_spec("timm:no_such_model", "random")
