"""Bad input to the study over your own model and data (`idgi_fast.study.run`, `--model SPEC`):
each gets an error naming the problem and the fix, and an existing database is left exactly as
it was; the user's model is never modified."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from test_own import CLASSES, ITEMS, MEAN, SIZE, STD, Net, Shapes

from idgi_fast.cli import main
from idgi_fast.study import run

QUICK = dict(
    methods=("ig",), steps=2, metrics=("insertion",), stability=False, only_correct=False, show_progress=False
)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@pytest.fixture(scope="module")
def existing(tmp_path_factory):
    """A finished study's database (WAL folded in), which every bad call must leave alone."""
    path = tmp_path_factory.mktemp("bad") / "study.sqlite"
    run(Net().eval(), Shapes(), path, normalize=(MEAN, STD), name="net", **QUICK)
    return path


class Items(torch.utils.data.Dataset):
    def __init__(self, make, items: int = ITEMS):
        self.make, self.items = make, items

    def __len__(self):
        return self.items

    def __getitem__(self, index):
        return self.make(index)


def _image(index, size=SIZE):
    return torch.full((3, size, size), 0.1 * (index % 5))


FLAT = Net().eval()


def _flat(x):
    return FLAT(x)[0][:, 0]


BAD = [
    (
        dict(model=lambda x: {"scores": FLAT(x)[0]}),
        TypeError,
        "the model returned dict; the study takes logits",
    ),
    (
        dict(model=_flat),
        ValueError,
        r"returned shape \(2,\) for 2 images; the study needs logits \(B, classes\)",
    ),
    (
        dict(data=Items(lambda i: (_image(i), CLASSES + 2))),
        ValueError,
        "labels outside the model's 3 outputs",
    ),
    (
        dict(data=Items(lambda i: (_image(i) * 255 - 20, 0)), normalize=None),
        ValueError,
        r"outside \[0, 1\].*normalize=\(mean, std\)",
    ),
    (
        dict(data=Items(lambda i: (_image(i) * 255 - 20, 0))),
        ValueError,
        r"outside \[0, 1\].*the model normalises them",
    ),
    (dict(data=Items(lambda i: (_image(i)[0], 0))), ValueError, r"\(channels, height, width\) tensor"),
    (
        dict(data=Items(lambda i: (_image(i), 0, 1))),
        ValueError,
        r"an item must be \(image, label\) or a dict",
    ),
    (dict(data=Items(lambda i: (_image(i, SIZE + 8 * (i == 3)), 0))), ValueError, "mixed sizes"),
    (
        dict(data=Items(lambda i: {"image": _image(i), "label": 0, "id": f"x{i % 3}"})),
        ValueError,
        "ids must be unique",
    ),
    (dict(data=Items(lambda i: (_image(i), "cat"))), ValueError, "the label must be a class index"),
    (dict(data=[]), ValueError, r"data as tensors must be \(images, labels\)"),
    (
        dict(data=(torch.rand(4, 3, 8, 8), torch.zeros(3, dtype=torch.long))),
        ValueError,
        "different numbers of items",
    ),
    (dict(data=Items(lambda i: (_image(i), 0)), ids=["a"]), ValueError, "ids: 1 given for 6 items"),
    (dict(normalize=(1, 2, 3)), ValueError, r"normalize must be \(mean, std\)"),
    (dict(normalize=((0.5,), (0.0,))), ValueError, "the std must be > 0"),
    (dict(name="a/b"), ValueError, "without '/'"),
    (dict(classes=["a", "b"]), ValueError, "classes names 2 classes but the model has 3 outputs"),
    (dict(model=Net().train()), ValueError, "in training mode.*model.eval()"),
    (dict(model=42), TypeError, "give an nn.Module or a callable"),
    (dict(metrics=("localization",), data=Items(lambda i: (_image(i), 0))), ValueError, "localization needs"),
    (dict(steps=0), ValueError, "steps must be positive"),
    (dict(device="gpu7"), ValueError, "device must be cpu, cuda or cuda:N"),
    (dict(metric_options={"insertion_canvas": "paper"}), ValueError, "insertion_canvas must be one of"),
    (
        dict(metrics=("sic",), metric_options={"information": ("msssim",)}),
        ValueError,
        "images of 32×32 are too small for MS-SSIM",
    ),
]


@pytest.mark.parametrize("change,error,message", BAD, ids=[row[2][:40] for row in BAD])
def test_bad_input_is_named_and_the_database_left_alone(existing, change, error, message):
    before = _digest(existing)
    given = {"model": Net().eval(), "data": Shapes(), "name": "net", **QUICK, **change}
    if "normalize" not in change and isinstance(given["model"], Net):
        given["normalize"] = (MEAN, STD)
    model, data = given.pop("model"), given.pop("data")
    with pytest.raises(error, match=message):
        run(model, data, existing, **given)
    assert _digest(existing) == before


def test_a_label_out_of_range_past_the_probes_stops_with_its_id_and_keeps_earlier_batches(tmp_path):
    def item(index):
        return {"image": _image(index), "label": CLASSES if index == 2 else 0, "id": f"item-{index}"}

    path = tmp_path / "late.sqlite"  # item 2 of 20 is not among the probe items
    with pytest.raises(ValueError, match=r"\('item-2', 3\)"):
        run(Net().eval(), Items(item, 20), path, normalize=(MEAN, STD), images_per_batch=2, **QUICK)
    from idgi_fast.study import Store

    store = Store(path, "test")
    try:
        assert store.finished_images("Net", "ig", 2) == {"item-0", "item-1"}
    finally:
        store.close()


def test_the_users_model_and_data_are_left_as_they_were(tmp_path):
    model = Net().eval()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    attributes = set(vars(model))
    data = Shapes()
    images = data.images.clone()
    run(model, data, tmp_path / "s.sqlite", normalize=(MEAN, STD), **QUICK)
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())
    assert set(vars(model)) == attributes and not model.training and torch.equal(data.images, images)


def test_an_iterable_dataset_is_refused_with_the_reason(tmp_path):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield _image(0), 0

    with pytest.raises(TypeError, match="IterableDataset, which cannot be read by index"):
        run(Net().eval(), Stream(), tmp_path / "s.sqlite", **QUICK)
    assert not (tmp_path / "s.sqlite").exists()


FACTORY = """
import torch
from torch import nn

def good():
    torch.manual_seed(0)
    layers = [nn.Conv2d(3, 4, 5, stride=4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 6)]
    return {"model": nn.Sequential(*layers), "crop": 224}

def four():
    return nn.Sequential(nn.Conv2d(3, 4, 5, stride=4), nn.AdaptiveAvgPool2d(1), nn.Flatten())

def flat():
    return nn.Sequential(nn.Conv2d(3, 1, 5, stride=4), nn.AdaptiveAvgPool2d(1), nn.Flatten(0))

def not_a_module():
    return "a model"

def broken():
    raise RuntimeError("no checkpoint")
"""


@pytest.mark.parametrize(
    "spec,message",
    [
        ("{dir}/factory.py:not_a_module", "the factory returned str; it must return an nn.Module"),
        ("{dir}/factory.py:broken", "the factory failed: RuntimeError: no checkpoint"),
        ("{dir}/factory.py:four", "has 4 outputs, but the images' labels go up to 5"),
        ("{dir}/factory.py:flat", r"returned shape \(1,\) for 1 image; the study needs logits"),
        ("{dir}/factory.py:absent", "has no callable 'absent'"),
        ("{dir}/missing.py:good", "no file"),
        ("{dir}/syntax.py:good", "importing .*syntax.py failed: SyntaxError"),
        ("no_such_package.models:build", "importing no_such_package.models failed: ModuleNotFoundError"),
        ("timm_is_not:here", "importing timm_is_not failed"),
    ],
)
def test_a_factory_that_fails_is_named_without_a_traceback(tmp_path, capsys, spec, message):
    (tmp_path / "factory.py").write_text(FACTORY)
    (tmp_path / "syntax.py").write_text("def good(:\n")
    db = tmp_path / "study.sqlite"
    args = ["run", "--model", spec.format(dir=tmp_path), "--images", "2", "--steps", "2", "--db", str(db)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert not db.exists()


def test_a_factory_spec_runs_and_a_changed_one_is_refused(tmp_path, capsys):
    (tmp_path / "factory.py").write_text(FACTORY)
    db = tmp_path / "study.sqlite"
    spec = f"{tmp_path}/factory.py:good"
    args = ["run", "--model", spec, "--images", "2", "--steps", "2", "--methods", "ig", "--db", str(db)]
    args += ["--keep-misclassified", "--metrics", "none", "--save-maps"]
    assert main(args) == 0
    assert "finished: 2 image runs done now" in capsys.readouterr().out
    before = _digest(db)
    (tmp_path / "factory.py").write_text(FACTORY.replace("manual_seed(0)", "manual_seed(1)"))
    assert main(args) == 2
    assert "holds a study made with other settings" in capsys.readouterr().err
    assert _digest(db) == before


# a factory file that defines its own class, as most do: the class's module is the one the file is imported as
OWN_CLASS = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.head = nn.Conv2d(3, 4, 5, stride=4), nn.Linear(4, 6)

    def forward(self, x):
        return self.head(self.conv(x).mean(dim=(2, 3)))

def good():
    torch.manual_seed(0)
    return {"model": Net(), "crop": 224}
"""


def _folder(root) -> None:
    """An ImageFolder of four small pictures in two classes (n01, n02)."""
    for index, (wnid, colour) in enumerate([("n01", 40), ("n01", 90), ("n02", 160), ("n02", 220)]):
        (root / wnid).mkdir(parents=True, exist_ok=True)
        picture = np.full((40, 48, 3), colour, dtype=np.uint8)
        picture[:, : 8 * (index + 1)] = 255 - colour
        Image.fromarray(picture).save(root / wnid / f"{index}.png")


def test_a_factory_spec_study_resumes_in_a_new_process(tmp_path):
    """Re-running resumes: a second process (another PYTHONHASHSEED, so other str hashes) finds the
    same identity, adds nothing and exits 0."""
    (tmp_path / "factory.py").write_text(OWN_CLASS)
    _folder(tmp_path / "val")
    db = tmp_path / "study.sqlite"
    args = ["run", "--model", f"{tmp_path}/factory.py:good", "--data", str(tmp_path / "val"), "--steps", "2"]
    args += ["--methods", "ig", "--metrics", "none", "--keep-misclassified", "--db", str(db)]
    done = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        ran = subprocess.run(
            [sys.executable, "-m", "idgi_fast.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert ran.returncode == 0, ran.stderr
        done.append(ran.stdout)
    assert "finished: 4 image runs done now" in done[0], done[0]
    assert "finished: 0 image runs done now" in done[1], done[1]


def test_a_database_with_the_old_factory_identity_keeps_opening(tmp_path, capsys):
    """Before, a file factory's identity began with the module name it was imported under
    (`idgi_fast_factory_<digits>.`); such a database resumes, and the identity is recorded anew."""
    from idgi_fast import __version__
    from idgi_fast.study.store.database import Store

    (tmp_path / "factory.py").write_text(OWN_CLASS)
    db = tmp_path / "study.sqlite"
    spec = f"{tmp_path}/factory.py:good"
    args = ["run", "--model", spec, "--images", "2", "--steps", "2", "--methods", "ig", "--db", str(db)]
    args += ["--keep-misclassified", "--metrics", "none"]
    assert main(args) == 0
    capsys.readouterr()
    store = Store(db, __version__)
    settings = store.settings()
    current = settings["weights"][spec]
    assert current.startswith("Net:sha256:")  # no module name of ours in it
    settings["weights"][spec] = f"idgi_fast_factory_123456789.{current}"
    store.record_settings(settings)
    store.close()
    assert main(args) == 0
    assert "finished: 0 image runs done now" in capsys.readouterr().out
    store = Store(db, __version__)
    assert store.settings()["weights"][spec] == current
    store.close()


def test_output_objects_without_logits_name_their_type():
    from idgi_fast.models.adapt import logits_of

    assert torch.equal(logits_of(SimpleNamespace(logits=torch.ones(1, 2))), torch.ones(1, 2))
    assert torch.equal(logits_of([torch.zeros(1, 2), "aux"]), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="returned SimpleNamespace"):
        logits_of(SimpleNamespace(scores=torch.ones(1, 2)))
    with pytest.raises(TypeError, match="returned tuple"):
        logits_of(())
