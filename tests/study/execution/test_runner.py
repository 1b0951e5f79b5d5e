"""The study runner and its database: a killed run resumes to exactly the database of an
uninterrupted run, finished work is never redone, a database of another schema is refused,
and every method recipe, image source and storage choice lands in it."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from conftest import SMALL_STUDY as SMALL
from conftest import as_rank, free_port, needs_torchvision, study_tables_of
from conftest import study_results as results

from idgi_fast.study import IncompatibleDatabase, Store, StudyConfig, run_study


def test_a_run_fills_every_table(uninterrupted):
    path, summary = uninterrupted
    # ig: one compute_at run at steps 4 (2 and 4); guided_ig: one run per step count
    assert summary == {
        "images_done": 15,
        "images_skipped_as_done": 0,
        "images_excluded": 0,
        "stopped": False,
        "missing": [],
    }
    found = results(path)
    assert len(found["done"]) == 15
    keys = {(row[1], row[2], row[3], row[4]) for row in found["scores"]}  # method, steps, idgi, count
    assert keys == {("ig", 4, idgi, count) for idgi in (0, 1) for count in (2, 4)} | {
        ("guided_ig", n, idgi, n) for idgi in (0, 1) for n in (2, 4)
    }
    metrics = {row[6] for row in found["scores"]}
    assert {"insertion/probability", "deletion/probability", "sic/entropy", "completeness_gap"} <= metrics
    gaps = [row[7] for row in found["scores"] if row[6] == "completeness_gap" and row[3] == 1]
    assert max(gaps) < 1e-5  # IDGI sums to F(input) − F(baseline)
    assert {row[6] for row in found["curves"]} == {"insertion", "deletion", "sic/entropy"}
    import json

    with sqlite3.connect(path) as connection:
        versions, device, seconds = connection.execute(
            "SELECT versions, device, seconds FROM runs"
        ).fetchone()
    import torch

    assert json.loads(versions)["torch"] == torch.__version__ and "pytorch-msssim" in json.loads(versions)
    assert device == "cpu" and seconds > 0


def test_a_killed_run_resumes_to_the_uninterrupted_database(uninterrupted, tmp_path):
    whole, _ = uninterrupted
    path = tmp_path / "resumed.sqlite"
    batches = iter(range(100))
    first = run_study(SMALL, path, show_progress=False, should_stop=lambda: next(batches) >= 3)
    assert first["stopped"] and 0 < first["images_done"] < 15
    second = run_study(SMALL, path, show_progress=False)
    assert second["images_skipped_as_done"] == first["images_done"]
    assert first["images_done"] + second["images_done"] == 15
    # exact: the run stops between batches and resumes at the next, so every image is computed in
    # the same batch, of the same shape, as in the uninterrupted run
    assert results(path) == results(whole)
    again = run_study(SMALL, path, show_progress=False)  # nothing left: only the check
    assert again == {
        "images_done": 0,
        "images_skipped_as_done": 15,
        "images_excluded": 0,
        "stopped": False,
        "missing": [],
    }


def test_a_database_of_another_schema_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "old.sqlite"
    Store(path, "test").close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = '0' WHERE key = 'schema_version'")
    with pytest.raises(IncompatibleDatabase, match="new --db file"):
        Store(path, "test")


def test_bad_study_options_are_named():
    with pytest.raises(
        ValueError, match=r"methods must name study methods; \['sharp_ig'\] given.*smoothgrad:ig"
    ):
        StudyConfig(methods=("sharp_ig",))
    with pytest.raises(ValueError, match="black_white: before ig or guided_ig"):
        StudyConfig(methods=("black_white:blur_ig",))
    with pytest.raises(ValueError, match="noise stdev must be a finite number"):
        StudyConfig(noise={"stdev": -1.0})
    with pytest.raises(ValueError, match=r"unknown noise setting\(s\) \['type'\]"):
        StudyConfig(noise={"type": "vargrad"})
    with pytest.raises(ValueError, match="unknown model"):
        StudyConfig(models=("resnet1000",))
    with pytest.raises(ValueError, match="must divide the largest"):
        StudyConfig(steps=(3, 8)).runs("ig")


def _scores(path) -> dict:
    return {tuple(row[:7]): row[7] for row in results(path)["scores"]}


def test_noise_tunnels_and_baseline_sets_run_whatever_the_batching(tmp_path):
    """smoothgrad:ig and black_white:guided_ig: each image's noise keyed by its id, so batches of 3
    and of 2 give the same scores (to the model's float rounding between batch shapes); every
    sample's IDGI is complete; the report names them; noise settings bind a database once a
    tunnel has run in it."""
    config = replace(
        SMALL,
        methods=("vargrad:ig", "black_white:guided_ig"),
        steps=(2,),
        images=3,
        images_per_batch=3,
        noise={"samples": 2, "stdev": 0.1},
    )
    whole, split = tmp_path / "whole.sqlite", tmp_path / "split.sqlite"
    run_study(config, whole, show_progress=False)
    run_study(replace(config, images_per_batch=2), split, show_progress=False)
    found, other = _scores(whole), _scores(split)
    assert found.keys() == other.keys() and {key[1] for key in found} == {
        "vargrad:ig",
        "black_white:guided_ig",
    }
    for key, value in found.items():
        assert value == pytest.approx(other[key], rel=1e-4, abs=1e-6), key
    gaps = [value for key, value in found.items() if key[6] == "completeness_gap" and key[3] == 1]
    assert len(gaps) == 2 * 3 and max(gaps) < 1e-5
    # another seed is another study
    with pytest.raises(IncompatibleDatabase, match="noise.seed is 0 there and 1 now"):
        run_study(replace(config, noise={"samples": 2, "stdev": 0.1, "seed": 1}), whole, show_progress=False)
    # noise settings bind a database only once a tunnel has run in it: without one, others are taken
    plain = tmp_path / "plain.sqlite"
    run_study(replace(config, methods=("ig",), noise={"samples": 5}), plain, show_progress=False)
    run_study(replace(config, methods=("vargrad:ig",)), plain, show_progress=False)
    run_study(replace(config, methods=("ig",), noise={"samples": 7}), plain, show_progress=False)
    with pytest.raises(IncompatibleDatabase, match="noise.samples is 2 there and 7 now"):
        run_study(replace(config, methods=("vargrad:ig",), noise={"samples": 7}), plain, show_progress=False)
    tables = study_tables_of(whole)
    assert "VarGrad IG + IDGI" in tables and "Guided IG (black + white)" in tables


def test_an_xrai_method_scores_the_region_maps_of_its_attributions(tmp_path):
    """xrai:black_white:ig stores the scores of XRAI's maps over IG (black + white) ± IDGI, as
    computed directly (insertion by evaluate, stability as the map change on the JPEG round
    trip), and the completeness of the attributions underneath."""
    pytest.importorskip("skimage")
    from idgi_fast import evaluate, explain
    from idgi_fast.metrics.stability import jpeg_round_trip, map_mse
    from idgi_fast.models import load_model
    from idgi_fast.study.inputs.named_models import ImageSource
    from idgi_fast.xrai import xrai

    config = replace(SMALL, methods=("xrai:black_white:ig",), steps=(2,), images=2, metrics=("insertion",))
    path = tmp_path / "xrai.sqlite"
    run_study(config, path, show_progress=False)
    model = load_model("scenenet", device="cpu")
    loaded = ImageSource(config).load([0, 1])

    def regions(images):
        found = explain(model, images, target=loaded.labels, steps=2, idgi=True, baselines=[0.0, 1.0])
        return xrai(images, found.idgi).maps[:, None].float()

    maps = regions(loaded.images)
    insertion = evaluate(
        model,
        loaded.images,
        maps[:, 0],
        loaded.labels,
        ["insertion"],
        show_progress=False,
        **config.metric_options,
    ).per_image["insertion/probability"]
    stability = map_mse(maps, regions(jpeg_round_trip(loaded.images)))
    stored = {key: value for key, value in _scores(path).items() if key[3] == 1}
    for i, image in enumerate(loaded.ids):
        key = ("scenenet", "xrai:black_white:ig", 2, 1, 2, image)
        assert stored[(*key, "insertion/probability")] == pytest.approx(float(insertion[i]), rel=1e-4)
        assert stored[(*key, "stability/mse")] == pytest.approx(float(stability[i]), rel=1e-3)
        assert stored[(*key, "completeness_gap")] < 1e-5


def test_an_xrai_method_without_scikit_image_stops_before_any_work(tmp_path, monkeypatch):
    import sys

    for name in ("skimage", "skimage.segmentation", "skimage.transform"):
        monkeypatch.setitem(sys.modules, name, None)
    path = tmp_path / "none.sqlite"
    with pytest.raises(ValueError, match=r"xrai:ig: XRAI segments .* pip install 'idgi-fast\[xrai\]'"):
        run_study(replace(SMALL, methods=("ig", "xrai:ig")), path, show_progress=False)
    assert not path.exists()


def _rank_worker(rank: int, world: int, port: int, path: str) -> None:
    as_rank(rank, world, port)
    run_study(SMALL, path, show_progress=False)


def test_two_gloo_processes_give_the_single_process_database(uninterrupted, tmp_path):
    """torchrun's layout by hand: 2 CPU ranks with gloo shard the images, write a shard each, and
    rank 0 merges them; the result is the single-process run's database — the same rows, skips
    and done-marks, and values equal to float32 rounding (the ranks batch other images together
    and run 1 thread each, so the model's sums are ordered differently; docs/semantics.md §7)."""
    import torch.multiprocessing as mp

    port = free_port()
    path = tmp_path / "two.sqlite"
    mp.spawn(_rank_worker, args=(2, port, str(path)), nprocs=2, join=True)
    assert not list(tmp_path.glob("two.rank*")), "the shards are merged and removed"
    whole, _ = uninterrupted
    merged, single = results(path), results(whole)
    assert merged["done"] == single["done"]
    assert [row[:7] for row in merged["scores"]] == [row[:7] for row in single["scores"]]
    for got, want in zip(merged["scores"], single["scores"]):
        assert (got[7] is None) == (want[7] is None)
        assert got[7] is None or abs(got[7] - want[7]) <= 1e-5 * abs(want[7]) + 1e-6, (got, want)
    assert merged["skips"] == single["skips"]
    assert [row[:4] + row[5:] for row in merged["images"]] == [row[:4] + row[5:] for row in single["images"]]
    store = Store(path, "test")
    try:
        ranks = store.connection.execute("SELECT rank, world FROM runs ORDER BY rank").fetchall()
    finally:
        store.close()
    assert ranks == [(0, 2), (1, 2)]


def test_an_image_folder_is_filtered_and_its_unreadable_files_recorded(tmp_path):
    """ImageFolder layout with SceneNet's class names: a scene filed under the wrong class is
    left out as misclassified, a corrupt file as unreadable — both recorded, neither fatal —
    and the rest are explained; a second run redoes nothing and decodes no decision again."""
    from dataclasses import replace

    import torch
    from PIL import Image

    from idgi_fast.data.scenes import SHAPE_CLASSES, generate_scenes
    from idgi_fast.metrics.stability import quantised

    scenes = generate_scenes(4, seed=1)
    root = tmp_path / "val"
    for i, (image, label) in enumerate(zip(quantised(scenes.images), scenes.labels.tolist())):
        folder = SHAPE_CLASSES[(label + 1) % len(SHAPE_CLASSES)] if i == 3 else SHAPE_CLASSES[label]
        (root / folder).mkdir(parents=True, exist_ok=True)
        array = (image.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(array).save(root / folder / f"scene{i}.png")
    (root / SHAPE_CLASSES[0]).mkdir(exist_ok=True)
    (root / SHAPE_CLASSES[0] / "broken.png").write_bytes(b"\x89PNG but not really")
    wnids = tmp_path / "classes.txt"
    wnids.write_text("\n".join(SHAPE_CLASSES) + "\n")
    config = replace(
        SMALL, methods=("ig",), data_root=str(root), wnids_file=str(wnids), images=None, resize=224, crop=224
    )
    path = tmp_path / "folder.sqlite"
    first = run_study(config, path, show_progress=False)
    assert first["images_done"] == 3 and first["images_excluded"] == 2
    found = results(path)
    statuses = {row[1].split("/")[-1]: row[5] for row in found["images"]}
    assert statuses == {
        "scene0.png": "used",
        "scene1.png": "used",
        "scene2.png": "used",
        "scene3.png": "misclassified",
        "broken.png": "unreadable",
    }
    assert len(found["done"]) == 3
    second = run_study(config, path, show_progress=False)
    assert second == {
        "images_done": 0,
        "images_skipped_as_done": 3,
        "images_excluded": 0,
        "stopped": False,
        "missing": [],
    }


def test_saved_maps_are_the_attributions_and_feed_the_report_grid(tmp_path):
    """--save-maps: one float32 (H, W) channel-summed map per image, variant and count, equal to
    a direct explain of the same image; the report then draws the saliency grid."""
    from dataclasses import replace

    import numpy as np

    from idgi_fast import explain
    from idgi_fast.models import load_model
    from idgi_fast.study.inputs.named_models import ImageSource
    from idgi_fast.study.report.tables import write_report
    from idgi_fast.study.store.maps import map_path, maps_folder

    config = replace(SMALL, methods=("ig",), images=2, save_maps=True)
    path = tmp_path / "maps.sqlite"
    run_study(config, path, show_progress=False)
    source = ImageSource(config)
    loaded = source.load([1])
    direct = (
        explain(
            load_model("scenenet", device="cpu"),
            loaded.images,
            target=loaded.labels,
            method="ig",
            steps=4,
            idgi=True,
            compute_at=[2, 4],
        )
        .attribution(idgi=True, steps=2)
        .sum(dim=1)[0]
    )
    saved = np.load(map_path(maps_folder(path), "scenenet", "ig", 4, 1, 2, loaded.ids[0]))
    assert saved.dtype == np.float32 and saved.shape == (224, 224)
    np.testing.assert_allclose(saved, direct.numpy(), rtol=1e-5, atol=1e-7)
    written = write_report(path, tmp_path / "report")
    assert tmp_path / "report" / "saliency_grid.png" in written
    assert (
        tmp_path / "report" / "paths.png" in written
    )  # the first scene, rebuilt from the stored configuration


def test_stability_scores_match_evaluate(uninterrupted):
    """The runner's JPEG stability (one explain of the JPEG round trip per batch) equals what
    evaluate's stability metric computes per image, under both normalisations."""
    import math

    from idgi_fast import evaluate, explain
    from idgi_fast.metrics import attribution_function
    from idgi_fast.models import load_model
    from idgi_fast.study.inputs.named_models import ImageSource

    path, _ = uninterrupted
    model = load_model("scenenet", device="cpu")
    loaded = ImageSource(SMALL).load(list(range(SMALL.images)))
    attributions = explain(
        model, loaded.images, target=loaded.labels, method="ig", steps=4, idgi=True
    ).attribution(idgi=True)
    for norm, metric in (("l1", "stability/mse"), ("sum", "stability/mse_sum")):
        want = evaluate(
            model,
            loaded.images,
            attributions,
            loaded.labels,
            ["stability"],
            show_progress=False,
            explain_fn=attribution_function(model, method="ig", steps=4, idgi=True),
            stability_norm=norm,
        ).per_image["stability"]
        store = Store(path, "test")
        try:
            got = dict(
                store.connection.execute(
                    "SELECT image, value FROM scores WHERE method = 'ig' AND idgi = 1 AND count = 4 "
                    "AND metric = ?",
                    (metric,),
                ).fetchall()
            )
        finally:
            store.close()
        for image, value in zip(loaded.ids, want.tolist()):
            assert math.isclose(-math.log10(got[image]), value, rel_tol=1e-4), (norm, image)


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("database or disk is full"), OSError(28, "No space left on device")]
)
def test_a_full_disk_stops_with_what_to_do(tmp_path, monkeypatch, capsys, error):
    from idgi_fast.cli import main

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(Store, "record", full)
    assert (
        main(
            [
                "run",
                "--db",
                str(tmp_path / "s.sqlite"),
                "--images",
                "1",
                "--methods",
                "ig",
                "--steps",
                "2",
                "--information",
                "entropy",
            ]
        )
        == 3
    )
    assert "the disk is full" in capsys.readouterr().err


def test_zoo_models_need_an_image_folder_and_weights_name_a_run_model():
    from idgi_fast.cli.arguments import weights as _weights

    with pytest.raises(ValueError, match="classify ImageNet images: give the ImageNet validation folder"):
        StudyConfig(models=("resnet50",))
    with pytest.raises(ValueError, match="weights given for \\['vgg16'\\]"):
        StudyConfig(models=("resnet50",), data_root="val", weights={"vgg16": "IMAGENET1K_V1"})
    assert _weights(["IMAGENET1K_V2", "vgg16=/w/vgg16.pth"], ["scenenet", "resnet50", "vgg16"]) == {
        "resnet50": "IMAGENET1K_V2",
        "vgg16": "/w/vgg16.pth",
    }
    with pytest.raises(ValueError, match="resnet50 is not among the models being run"):
        _weights(["resnet50=/w/r.pth"], ["scenenet"])


def test_a_missing_weights_file_stops_the_run_before_any_work(tmp_path):
    config = StudyConfig(
        models=("scenenet",), data_root=str(tmp_path), weights={"scenenet": str(tmp_path / "w.pt")}
    )
    with pytest.raises(FileNotFoundError, match="weights file .*w.pt for scenenet not found"):
        run_study(config, tmp_path / "study.sqlite", show_progress=False)
    assert not (tmp_path / "study.sqlite").exists()


@needs_torchvision
def test_a_zoo_model_runs_on_its_own_input_size(tmp_path):
    """Inception-v3 (random weights) on a one-image folder: its images are resized to 342 and
    cropped to 299 (its evaluation transform), its maps are 299 × 299."""
    from dataclasses import replace

    import numpy as np
    from PIL import Image

    from idgi_fast.study.store.maps import map_path, maps_folder

    root = tmp_path / "val" / "n01440764"
    root.mkdir(parents=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (400, 500, 3), dtype=np.uint8)).save(
        root / "a.png"
    )
    config = replace(
        SMALL,
        models=("inception_v3",),
        weights={"inception_v3": "random"},
        methods=("ig",),
        steps=(2,),
        images=None,
        data_root=str(tmp_path / "val"),
        only_correct=False,
        save_maps=True,
        metrics=("insertion",),
        stability=False,
    )
    path = tmp_path / "zoo.sqlite"
    assert run_study(config, path, show_progress=False)["images_done"] == 1
    saved = np.load(map_path(maps_folder(path), "inception_v3", "ig", 2, 1, 2, "n01440764/a.png"))
    assert saved.shape == (299, 299) and np.isfinite(saved).all()
    from idgi_fast.study.report.figures import first_image as _first_image

    store = Store(path, "test")
    try:
        assert _first_image(store).shape == (3, 299, 299)  # the paths figure rebuilds it at the model's size
    finally:
        store.close()


def test_without_save_maps_only_the_preview_images_maps_are_written(tmp_path):
    """The report's saliency grid needs maps; a default run writes those of the first
    `preview_images` images only."""
    from dataclasses import replace

    from idgi_fast.study.inputs.named_models import ImageSource
    from idgi_fast.study.report.tables import write_report
    from idgi_fast.study.store.maps import maps_folder

    config = replace(SMALL, methods=("ig",), images=3, preview_images=1, stability=False)
    path = tmp_path / "preview.sqlite"
    run_study(config, path, show_progress=False)
    first = ImageSource(config).ids[0].replace("/", "__")
    written = sorted(p.relative_to(maps_folder(path)).as_posix() for p in maps_folder(path).rglob("*.*"))
    assert written == sorted(
        [f"scenenet/inputs/{first}.png"]
        + [f"scenenet/ig/steps4/{variant}_n{n}/{first}.npy" for variant in ("base", "idgi") for n in (2, 4)]
    )
    assert tmp_path / "report" / "saliency_grid.png" in write_report(path, tmp_path / "report")
