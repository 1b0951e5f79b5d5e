"""idgi_fast.study.run over a user's own model and data: the named path's guarantees (resume to
the uninterrupted database, values equal to explain + evaluate, torchrun sharding, a changed
model or data set refused) on an nn.Module and a Dataset defined here."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
import torch
from conftest import as_rank, free_port
from conftest import study_results as results
from torch import nn

from idgi_fast import evaluate, explain
from idgi_fast.study import IncompatibleDatabase, run

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)
SIZE, CLASSES, ITEMS = 32, 3, 6
SETTINGS = dict(
    methods=("ig", "guided_ig"),
    steps=(2, 4),
    images_per_batch=2,
    metrics=("insertion", "sic"),
    metric_options={
        "insertion_canvas": "blur",
        "insertion_levels": 4,
        "pic_levels": 5,
        "information": ("entropy",),
        "webp_method": 0,
        "min_pred": 0.0,
    },
    only_correct=False,
    show_progress=False,
)


class Net(nn.Module):
    """A user's classifier that expects normalised inputs and returns (logits, features)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.head = nn.Linear(8, CLASSES)

    def forward(self, x):
        pooled = self.features(x).mean(dim=(2, 3))
        return self.head(pooled), pooled


class Shapes(torch.utils.data.Dataset):
    """Items as dicts with an id, a label and an object mask, images in [0, 1]."""

    def __init__(self, items: int = ITEMS, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.images = (torch.rand(items, 3, SIZE, SIZE, generator=generator) * 255).round() / 255
        self.labels = torch.randint(0, CLASSES, (items,), generator=generator)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        mask = torch.zeros(SIZE, SIZE, dtype=torch.bool)
        mask[8:24, 8:24] = True
        return {
            "image": self.images[index],
            "label": int(self.labels[index]),
            "mask": mask,
            "id": f"img-{index}",
        }


def normalised(model):
    """The user's model as the study calls it, written out: normalise, take the first output."""
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return lambda x: model((x - mean) / std)[0]


@pytest.fixture(scope="module")
def model():
    return Net().eval()


@pytest.fixture(scope="module")
def whole(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("own") / "whole.sqlite"
    summary = run(model, Shapes(), path, normalize=(MEAN, STD), name="net", **SETTINGS)
    return path, summary


def test_a_study_of_your_own_model_and_data_fills_the_database(whole):
    path, summary = whole
    assert summary["images_done"] == 3 * ITEMS and summary["missing"] == [] and not summary["stopped"]
    found = results(path)
    assert {row[3] for row in found["done"]} == {f"img-{i}" for i in range(ITEMS)}
    gaps = [row[7] for row in found["scores"] if row[6] == "completeness_gap" and row[3] == 1]
    assert len(gaps) == 4 * ITEMS and max(gaps) < 1e-4  # ig at 2 and 4, guided_ig at each: IDGI sums up


def test_stored_scores_equal_explain_and_evaluate_on_the_normalised_model(model, whole):
    """The wrapper normalises and takes the first output; the stored IG insertion of a batch is
    what explain + evaluate give on that batch (same shapes, so equal to rounding)."""
    path, _ = whole
    data = Shapes()
    images, labels = data.images[:2], data.labels[:2]
    direct = normalised(model)
    found = explain(direct, images, target=labels, steps=4, idgi=True, compute_at=[2, 4])
    scores = evaluate(
        direct,
        images,
        found.attribution(idgi=True, steps=2),
        labels,
        ["insertion"],
        show_progress=False,
        **{k: v for k, v in SETTINGS["metric_options"].items() if k != "information"},
    )
    with sqlite3.connect(path) as connection:
        stored = dict(
            connection.execute(
                "SELECT image, value FROM scores WHERE method = 'ig' AND idgi = 1 AND count = 2 "
                "AND metric = 'insertion/probability'"
            ).fetchall()
        )
    for i in range(2):
        assert stored[f"img-{i}"] == pytest.approx(
            float(scores.per_image["insertion/probability"][i]), rel=1e-5, abs=1e-6
        )


def test_a_stopped_study_resumes_to_the_uninterrupted_database(model, whole, tmp_path):
    path = tmp_path / "resumed.sqlite"
    batches = iter(range(100))
    first = run(
        model,
        Shapes(),
        path,
        normalize=(MEAN, STD),
        name="net",
        should_stop=lambda: next(batches) >= 4,
        **SETTINGS,
    )
    assert first["stopped"] and 0 < first["images_done"] < 3 * ITEMS
    from idgi_fast.study.report.tables import build_report

    assert build_report(path, resamples=10).incomplete  # counted from the data set's size
    second = run(model, Shapes(), path, normalize=(MEAN, STD), name="net", **SETTINGS)
    assert first["images_done"] + second["images_done"] == 3 * ITEMS
    assert results(path) == results(whole[0])  # every image computed in the same batch as before
    report = build_report(path, resamples=10)
    assert report.incomplete is None and report.unchecked is None and report.images == ITEMS


def test_a_dataloader_and_tensors_give_the_same_database(model, whole, tmp_path):
    data = Shapes()
    loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=1)
    ids = [f"img-{i}" for i in range(ITEMS)]
    masks = torch.stack([data[i]["mask"] for i in range(ITEMS)])
    for name, given in (
        ("loader", dict(data=loader)),
        ("tensors", dict(data=(data.images, data.labels, masks), ids=ids)),
    ):
        path = tmp_path / f"{name}.sqlite"
        run(model, db=path, normalize=(MEAN, STD), name="net", **given, **SETTINGS)
        assert results(path) == results(whole[0]), name


def _changed(model: nn.Module) -> nn.Module:
    other = Net().eval()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        other.head.bias[0] += 1e-3
    return other


def test_a_changed_model_or_data_set_is_refused_and_the_database_left_alone(model, whole, tmp_path):
    import shutil

    path = tmp_path / "copy.sqlite"
    shutil.copy(whole[0], path)
    before = results(path)
    small = {**SETTINGS, "methods": ("ig",)}
    with pytest.raises(IncompatibleDatabase, match="weights.net is"):
        run(_changed(model), Shapes(), path, normalize=(MEAN, STD), name="net", **small)
    with pytest.raises(IncompatibleDatabase, match="weights.net is"):  # the normalisation is the model's too
        run(model, Shapes(), path, normalize=((0.5,), (0.25,)), name="net", **small)
    changed = Shapes()
    changed.images[ITEMS - 1] = 1 - changed.images[ITEMS - 1]  # the last item is a probe
    with pytest.raises(IncompatibleDatabase, match="data.probe is"):
        run(model, changed, path, normalize=(MEAN, STD), name="net", **small)
    with pytest.raises(IncompatibleDatabase, match="data.items is 6 there and 5 now"):
        run(
            model,
            torch.utils.data.Subset(Shapes(), range(5)),
            path,
            normalize=(MEAN, STD),
            name="net",
            **small,
        )
    assert results(path) == before
    # the same weights under another name are another model: more work, not other settings
    run(model, Shapes(), path, normalize=(MEAN, STD), name="net-copy", **small)


def test_outputs_of_every_accepted_kind_and_attributions_only(tmp_path):
    """A tensor, a tuple's first item and an object's .logits are the logits; with no metrics the
    study stores the completeness gaps and (save_maps) the maps."""
    base = Net(seed=1).eval()
    kinds = {
        "tensor": lambda x: base(x)[0],
        "tuple": base,
        "logits": lambda x: SimpleNamespace(logits=base(x)[0]),
    }
    stored = []
    for name, model in kinds.items():
        path = tmp_path / f"{name}.sqlite"
        run(
            {name: model},
            Shapes(),
            path,
            methods=("ig",),
            steps=2,
            metrics=(),
            stability=False,
            save_maps=True,
            only_correct=False,
            show_progress=False,
        )
        rows = results(path)["scores"]
        assert {row[6] for row in rows} == {"completeness_gap"}
        stored.append([row[1:] for row in rows])
        assert len(list((tmp_path / f"{name}_maps" / name).rglob("*.npy"))) == 2 * ITEMS
    assert stored[0] == stored[1] == stored[2]


def test_localization_scores_the_items_masks(model, tmp_path):
    path = tmp_path / "loc.sqlite"
    run(
        model,
        Shapes(),
        path,
        normalize=(MEAN, STD),
        methods=("ig",),
        steps=2,
        metrics=("localization",),
        stability=False,
        only_correct=False,
        show_progress=False,
    )
    rows = results(path)["scores"]
    assert {row[6] for row in rows} == {"completeness_gap", "energy_in_mask", "pointing_game"}
    data = Shapes()
    masks = torch.stack([data[i]["mask"] for i in range(2)])
    found = explain(normalised(model), data.images[:2], target=data.labels[:2], steps=2, idgi=True)
    want = evaluate(
        normalised(model), data.images[:2], found.idgi, data.labels[:2], ["localization"], masks=masks
    )
    energy = {row[5]: row[7] for row in rows if row[6] == "energy_in_mask" and row[3] == 1}
    for i in range(2):
        assert energy[f"img-{i}"] == pytest.approx(float(want.per_image["energy_in_mask"][i]), rel=1e-5)


def test_grey_images_of_one_channel_get_every_metric_and_the_report(tmp_path):
    """Nothing assumes three channels: a one-channel model through SIC/AIC, JPEG stability, the
    saved previews and the report's figures."""
    from idgi_fast.study.report.tables import write_report

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )
    images = (torch.rand(4, 1, SIZE, SIZE) * 255).round() / 255
    path = tmp_path / "grey.sqlite"
    settings = {**SETTINGS, "methods": ("ig",), "metrics": ("insertion", "deletion", "sic", "aic")}
    summary = run(
        model.eval(), (images, torch.tensor([0, 1, 2, 0])), path, normalize=((0.5,), (0.2,)), **settings
    )
    assert summary["images_done"] == 4 and not summary["missing"]
    metrics = {row[6] for row in results(path)["scores"]}
    assert {"sic/entropy", "aic/entropy", "stability/mse", "deletion/probability"} <= metrics
    written = write_report(path, tmp_path / "report")
    assert tmp_path / "report" / "saliency_grid.png" in written


def _rank_worker(rank: int, world: int, port: int, path: str) -> None:
    as_rank(rank, world, port)
    run(Net().eval(), Shapes(), path, normalize=(MEAN, STD), name="net", **SETTINGS)


def test_two_gloo_processes_shard_your_data_set(whole, tmp_path):
    """The named path's sharding on a user's data: 2 ranks, one merged database, the same rows
    (values to float32 rounding: the ranks batch other images together)."""
    import torch.multiprocessing as mp

    port = free_port()
    path = tmp_path / "two.sqlite"
    mp.spawn(_rank_worker, args=(2, port, str(path)), nprocs=2, join=True)
    merged, single = results(path), results(whole[0])
    assert merged["done"] == single["done"]
    assert [row[:7] for row in merged["scores"]] == [row[:7] for row in single["scores"]]
    for got, want in zip(merged["scores"], single["scores"]):
        assert (got[7] is None) == (want[7] is None)
        assert got[7] is None or got[7] == pytest.approx(want[7], rel=1e-5, abs=1e-6)
