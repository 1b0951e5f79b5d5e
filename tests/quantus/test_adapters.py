"""idgi_fast.quantus: our explain_func inside Quantus's own metrics (one faithfulness, one
robustness), our metric callables against evaluate and against Quantus's ROAD."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import TinyCNN

from idgi_fast import evaluate
from idgi_fast import quantus as adapters

quantus = pytest.importorskip("quantus")
warnings.filterwarnings("ignore", module="quantus")


@pytest.fixture(scope="module")
def batch():
    model = TinyCNN().eval()
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 12, 12, generator=generator)
    y = model(x).argmax(1)
    return model, x.numpy(), y.numpy()


@pytest.mark.parametrize(
    "options",
    [
        {"method": "ig", "steps": 8},
        {"method": "blur_ig", "steps": 8, "idgi": False},
        {"method": "guided_ig", "steps": 8},
        {"method": "ig", "steps": 8, "noise": {"type": "smoothgrad", "samples": 2, "seed": 0}},
        {"method": "ig", "schedule": [0.0, 0.1, 0.3, 0.6, 1.0], "rule": "left"},
    ],
    ids=["ig+idgi", "blur_ig", "guided_ig+idgi", "smoothgrad", "schedule"],
)
def test_explain_func_gives_explains_attributions(batch, options):
    model, x, y = batch
    got = adapters.explain_func(model, x, y, **options)
    settings = {**adapters.EXPLAIN_DEFAULTS, **options}
    from idgi_fast import explain

    want = explain(model, torch.from_numpy(x), torch.from_numpy(y), **settings).attribution(
        idgi=settings["idgi"]
    )
    assert got.shape == x.shape and got.dtype == np.float32
    assert np.allclose(got, want.numpy(), rtol=1e-5, atol=1e-7)
    reduced = adapters.explain_func(model, x, y, reduce="sum", **options)
    assert reduced.shape == (4, 1, 12, 12) and np.allclose(reduced[:, 0], got.sum(1), atol=1e-6)


def test_explain_func_runs_quantus_faithfulness_and_robustness_metrics(batch):
    model, x, y = batch
    np.random.seed(0)  # Quantus draws its subsets and perturbations from NumPy's global generator
    kwargs = {"method": "ig", "steps": 8, "reduce": "sum"}
    arguments = dict(
        model=model,
        x_batch=x,
        y_batch=y,
        explain_func=adapters.explain_func,
        explain_func_kwargs=kwargs,
        device="cpu",
    )
    faithfulness = quantus.FaithfulnessCorrelation(
        nr_runs=3, subset_size=16, perturb_baseline="black", disable_warnings=True, return_aggregate=False
    )
    scores = faithfulness(**arguments)
    assert len(scores) == 4 and np.all(np.isfinite(scores))
    robustness = quantus.MaxSensitivity(nr_samples=2, lower_bound=0.05, disable_warnings=True)
    sensitivity = robustness(**arguments)
    assert len(sensitivity) == 4 and np.all(np.asarray(sensitivity) > 0)


@pytest.mark.parametrize(
    "metric, key, options",
    [
        (adapters.Insertion, "insertion/probability", {"insertion_levels": 6}),
        (adapters.Deletion, "deletion/probability", {"insertion_levels": 6}),
        (adapters.SIC, "sic/entropy", {"information": "entropy", "pic_levels": 6, "min_pred": 0.0}),
        (adapters.AIC, "aic/entropy", {"information": "entropy", "pic_levels": 6, "min_pred": 0.0}),
        (adapters.ROAD, "road/lerf/accuracy", {"order": "lerf", "score": "accuracy"}),
    ],
)
def test_metric_callables_return_evaluates_per_image_scores(batch, metric, key, options):
    model, x, y = batch
    a = np.random.default_rng(0).random((4, 1, 12, 12)).astype(np.float32)
    scores = metric(**options)(model=model, x_batch=x, y_batch=y, a_batch=a, device="cpu")
    evaluate_options = {k: v for k, v in options.items() if k not in ("order", "score", "information")}
    if "information" in options:
        evaluate_options["information"] = (options["information"],)
    want = evaluate(
        model,
        torch.from_numpy(x),
        torch.from_numpy(a[:, 0]),
        torch.from_numpy(y),
        [key.split("/")[0]],
        **evaluate_options,
    )
    assert len(scores) == 4
    np.testing.assert_allclose(scores, want.per_image[key].numpy(), atol=1e-12, equal_nan=True)


def test_road_callable_matches_quantus_road():
    torch.manual_seed(11)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(14 * 15, 4)).eval()
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(16, 1, 14, 15, generator=generator)
    a = torch.rand(16, 1, 14, 15, generator=generator).numpy()
    y = model(x).argmax(1).numpy()
    theirs = quantus.ROAD(noise=0.0, percentages=[10, 20, 30, 40, 50, 70, 90], disable_warnings=True)(
        model=model, x_batch=x.numpy(), y_batch=y, a_batch=a, device="cpu"
    )
    ours = adapters.ROAD(score="accuracy", road_noise=0.0)
    ours(model=model, x_batch=x.numpy(), y_batch=y, a_batch=a, device="cpu")
    curve = ours.last.aggregate_curves["road/morf/accuracy"].tolist()
    assert len(set(theirs.values())) > 2 and curve == pytest.approx(list(theirs.values()), abs=1e-12)


def test_bad_input_names_the_fix(batch, monkeypatch):
    model, x, y = batch
    with pytest.raises(ValueError, match="road_percentages must be sorted"):
        adapters.ROAD(road_percentages=[50, 10])
    with pytest.raises(ValueError, match="order must be one of"):
        adapters.ROAD(order="most")
    with pytest.raises(ValueError, match="pass a_batch"):
        adapters.Insertion()(model=model, x_batch=x, y_batch=y)
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['colour'\]"):
        adapters.Insertion()(model=model, x_batch=x, y_batch=y, a_batch=x, colour=1)
    with pytest.raises(TypeError, match="x_batch must be a NumPy array"):
        adapters.Insertion()(model=model, x_batch=[1, 2], y_batch=y, a_batch=x)
    monkeypatch.setitem(sys.modules, "quantus", None)
    monkeypatch.setattr(adapters.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install idgi_fast\[quantus\]"):
        adapters.require_quantus()
    with pytest.raises(ImportError, match=r"pip install idgi_fast\[quantus\]"):
        adapters.ROAD()
    with pytest.raises(ImportError, match=r"pip install idgi_fast\[quantus\]"):
        adapters.explain_func(model, x, y)
