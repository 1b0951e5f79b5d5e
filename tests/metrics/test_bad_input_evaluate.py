"""Bad input to evaluate: each case gets an exception of the named type whose
message names the argument and the fix."""

from __future__ import annotations

import pytest
import torch
from bad_input_cases import (
    ATTRIBUTION,
    MODEL,
    X,
    empty_batch,
    integer_logits,
    nan_logits,
    on_meta,
    tuple_output,
    with_batchnorm,
    with_nan,
)

from idgi_fast import evaluate
from idgi_fast.outputs import NonFiniteOutput


def ev(model, images, attributions, **options):
    """evaluate on the small images: insertion only unless the case names its metrics (the
    default SIC/AIC's MS-SSIM axis needs larger images)."""
    options.setdefault("metrics", ["insertion"])
    return evaluate(model, images, attributions, **options)


EVALUATE = [
    (
        "evaluate model not callable",
        lambda: ev(None, X, ATTRIBUTION),
        TypeError,
        r"model must be an nn.Module or a callable",
    ),
    (
        "evaluate model in train mode",
        lambda: ev(with_batchnorm(), X, ATTRIBUTION),
        ValueError,
        r"training mode.*model.eval\(\)",
    ),
    (
        "evaluate model on another device",
        lambda: ev(on_meta(), X, ATTRIBUTION),
        ValueError,
        r"model is on meta but the inputs are on cpu",
    ),
    (
        "evaluate NaN logits",
        lambda: ev(nan_logits, X, ATTRIBUTION, target=0),
        NonFiniteOutput,
        r"logits are NaN or Inf for input 0",
    ),
    (
        "evaluate integer logits",
        lambda: ev(integer_logits, X, ATTRIBUTION, target=0),
        TypeError,
        r"floating-point logits",
    ),
    (
        "evaluate tuple output",
        lambda: ev(tuple_output, X, ATTRIBUTION),
        TypeError,
        r"model must return a logits tensor",
    ),
    (
        "evaluate images not a tensor",
        lambda: ev(MODEL, X.numpy(), ATTRIBUTION),
        TypeError,
        r"images must be a torch.Tensor",
    ),
    (
        "evaluate images 3-D",
        lambda: ev(MODEL, X[0], ATTRIBUTION),
        ValueError,
        r"images must be an image batch \(B, C, H, W\)",
    ),
    (
        "evaluate images empty",
        lambda: ev(MODEL, empty_batch(), ATTRIBUTION),
        ValueError,
        r"images is an empty batch",
    ),
    (
        "evaluate images NaN",
        lambda: ev(MODEL, with_nan(), ATTRIBUTION),
        ValueError,
        r"images contains 1 NaN or Inf",
    ),
    (
        "evaluate images outside [0, 1]",
        lambda: ev(MODEL, X * 2, ATTRIBUTION, metrics=["sic"], information="entropy"),
        ValueError,
        r"images must lie in \[0, 1\] for the entropy information axis",
    ),
    (
        "evaluate attributions shape",
        lambda: ev(MODEL, X, ATTRIBUTION[:, :, :4]),
        ValueError,
        r"attributions of shape .* do not match images",
    ),
    (
        "evaluate attributions NaN",
        lambda: ev(MODEL, X, with_nan()),
        ValueError,
        r"attributions contains",
    ),
    (
        "evaluate attributions list",
        lambda: ev(MODEL, X, [1.0]),
        TypeError,
        r"attributions must be a torch.Tensor",
    ),
    (
        "evaluate target 2**63",
        lambda: ev(MODEL, X, ATTRIBUTION, target=2**63),
        ValueError,
        r"target must lie in \[0, K\)",
    ),
    (
        "evaluate target too large",
        lambda: ev(MODEL, X, ATTRIBUTION, target=9),
        ValueError,
        r"target must lie in \[0, 5\)",
    ),
    (
        "evaluate metrics unknown",
        lambda: ev(MODEL, X, ATTRIBUTION, metrics=["auc"]),
        ValueError,
        r"unknown metric\(s\) \['auc'\]",
    ),
    (
        "evaluate metrics empty",
        lambda: ev(MODEL, X, ATTRIBUTION, metrics=[]),
        ValueError,
        r"metrics must be a non-empty list",
    ),
    (
        "evaluate masks missing",
        lambda: ev(MODEL, X, ATTRIBUTION, metrics=["localization"]),
        ValueError,
        r"needs ground-truth masks: pass masks=",
    ),
    (
        "evaluate masks shape",
        lambda: ev(MODEL, X, ATTRIBUTION, metrics=["localization"], masks=torch.ones(2, 4, 4)),
        ValueError,
        r"masks must have shape \(2, 8, 8\)",
    ),
    (
        "evaluate explain_fn missing",
        lambda: ev(MODEL, X, ATTRIBUTION, metrics=["stability"]),
        TypeError,
        r"pass explain_fn=f",
    ),
    (
        "evaluate show_progress",
        lambda: ev(MODEL, X, ATTRIBUTION, show_progress="no"),
        TypeError,
        r"show_progress must be True or False",
    ),
    (
        "evaluate backend",
        lambda: ev(MODEL, X, ATTRIBUTION, backend="cuda"),
        ValueError,
        r"backend must be one of",
    ),
    (
        "evaluate unknown option",
        lambda: ev(MODEL, X, ATTRIBUTION, sigma=3),
        TypeError,
        r"unknown evaluate option\(s\) \['sigma'\]",
    ),
    (
        "evaluate insertion_levels",
        lambda: ev(MODEL, X, ATTRIBUTION, insertion_levels=1),
        ValueError,
        r"insertion_levels must be an int ≥ 2",
    ),
    (
        "evaluate insertion_canvas",
        lambda: ev(MODEL, X, ATTRIBUTION, insertion_canvas="white"),
        ValueError,
        r"insertion_canvas must be one of",
    ),
    (
        "evaluate insertion_sigma NaN",
        lambda: ev(MODEL, X, ATTRIBUTION, insertion_sigma=float("nan")),
        ValueError,
        r"insertion_sigma must be a finite number > 0",
    ),
    (
        "evaluate pic_sigma 0",
        lambda: ev(MODEL, X, ATTRIBUTION, pic_sigma=0),
        ValueError,
        r"pic_sigma must be a finite number > 0",
    ),
    (
        "evaluate pic_profile",
        lambda: ev(MODEL, X, ATTRIBUTION, pic_profile="smooth"),
        ValueError,
        r"pic_profile must be one of",
    ),
    (
        "evaluate information jpeg",
        lambda: ev(MODEL, X, ATTRIBUTION, information="jpeg"),
        ValueError,
        r"information must be one of",
    ),
    (
        "evaluate min_pred",
        lambda: ev(MODEL, X, ATTRIBUTION, min_pred=2),
        ValueError,
        r"min_pred must be a probability in \[0, 1\]",
    ),
    (
        "evaluate batch_size",
        lambda: ev(MODEL, X, ATTRIBUTION, batch_size=0),
        ValueError,
        r"batch_size must be None or an int ≥ 1 \(images per model call\)",
    ),
    (
        "evaluate overlap_encoding",
        lambda: ev(MODEL, X, ATTRIBUTION, overlap_encoding="yes"),
        TypeError,
        r"overlap_encoding must be True or False",
    ),
    (
        "evaluate stability_norm",
        lambda: ev(
            MODEL, X, ATTRIBUTION, metrics=["stability"], explain_fn=lambda i, t: i, stability_norm="l2"
        ),
        ValueError,
        r"stability_norm must be one of",
    ),
    (
        "evaluate precision fp16",
        lambda: ev(MODEL, X, ATTRIBUTION, precision="fp16"),
        ValueError,
        r"precision must be one of",
    ),
    (
        "evaluate precision FP32",
        lambda: ev(MODEL, X, ATTRIBUTION, precision="FP32"),
        ValueError,
        r"precision must be one of",
    ),
]


def road(**options):
    return ev(MODEL, X, ATTRIBUTION, metrics=["road"], **options)


ROAD = [
    ("road percentage 0", lambda: road(road_percentages=[0, 50]), ValueError, r"strictly between 0 and 100"),
    (
        "road percentage 100",
        lambda: road(road_percentages=[50, 100]),
        ValueError,
        r"strictly between 0 and 100",
    ),
    (
        "road percentage text",
        lambda: road(road_percentages=["10"]),
        ValueError,
        r"strictly between 0 and 100",
    ),
    ("road percentages empty", lambda: road(road_percentages=[]), ValueError, r"non-empty list of numbers"),
    ("road percentages scalar", lambda: road(road_percentages=10), ValueError, r"non-empty list of numbers"),
    (
        "road unsorted",
        lambda: road(road_percentages=[50, 10]),
        ValueError,
        r"sorted and without repeats.*\[10\.0, 50\.0\]",
    ),
    ("road repeated", lambda: road(road_percentages=[10, 10]), ValueError, r"sorted and without repeats"),
    (
        "road noise negative",
        lambda: road(road_noise=-0.1),
        ValueError,
        r"road_noise must be a finite number ≥ 0",
    ),
    (
        "road noise NaN",
        lambda: road(road_noise=float("nan")),
        ValueError,
        r"road_noise must be a finite number ≥ 0",
    ),
    (
        "road noise inf",
        lambda: road(road_noise=float("inf")),
        ValueError,
        r"road_noise must be a finite number ≥ 0",
    ),
    ("road seed", lambda: road(road_seed=-1), ValueError, r"road_seed must be an int ≥ 0"),
    ("road orders", lambda: road(road_orders=["morf", "best"]), ValueError, r"road_orders must name each of"),
    (
        "road orders repeated",
        lambda: road(road_orders=["morf", "morf"]),
        ValueError,
        r"road_orders must name",
    ),
    (
        "road image too small",
        lambda: evaluate(MODEL, X[:, :, :2, :5], ATTRIBUTION[:, :, :2, :5], metrics=["road"]),
        ValueError,
        r"too small: pass images of at least 3 × 3",
    ),
    (
        "road attribution shape",
        lambda: ev(MODEL, X, ATTRIBUTION[:, :, :4], metrics=["road"]),
        ValueError,
        r"do not match images of shape",
    ),
]

TABLE = EVALUATE + ROAD


@pytest.mark.parametrize(
    "call, error, message", [case[1:] for case in TABLE], ids=[case[0] for case in TABLE]
)
def test_bad_input_is_refused_with_the_argument_and_the_fix(call, error, message):
    with pytest.raises(error, match=message):
        call()
