"""Bad input on the path-attribution family, table by table (as test_bad_input.py does for the
core API): noise tunnels, several baselines, step schedules and schedule files, precision and
CUDA graphs, GradientSHAP, XRAI, evaluate's pair mask, and the Captum NoiseTunnel and
GradientShap drop-ins. Each row gets an exception of the named type whose message names the
argument and the fix; none runs on silently. The command line's rows are in
test_bad_input_cli.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TinyCNN

from idgi_fast import IG, evaluate, explain, gradient_shap
from idgi_fast.captum import GradientShap as CaptumGradientShap
from idgi_fast.captum import IntegratedGradients as CaptumIG
from idgi_fast.captum import NoiseTunnel as CaptumNoiseTunnel
from idgi_fast.schedules import Schedule
from idgi_fast.xrai import xrai

MODEL = TinyCNN().eval()
X = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
ATTRIBUTION = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
ROWS = torch.zeros(2, 3, 8, 8)  # a GradientSHAP distribution of two baselines
NAN = float("nan")


def with_nan(tensor: torch.Tensor = X) -> torch.Tensor:
    bad = tensor.clone()
    bad[1, 0, 2, 2] = NAN
    return bad


def noisy(**noise):
    return lambda: explain(MODEL, X, target=0, steps=2, noise=noise)


def scheduled(schedule, **options):
    return lambda: explain(MODEL, X, target=0, schedule=schedule, **{"rule": "left", **options})


NOISE = [
    ("samples 0", noisy(samples=0), ValueError, r"noise samples must be an int ≥ 1, got 0"),
    ("samples -3", noisy(samples=-3), ValueError, r"noise samples must be an int ≥ 1"),
    ("samples 2.0", noisy(samples=2.0), ValueError, r"noise samples must be an int ≥ 1, got 2.0"),
    ("stdev -0.1", noisy(stdev=-0.1), ValueError, r"noise stdev must be a finite number ≥ 0"),
    ("stdev NaN", noisy(stdev=NAN), ValueError, r"noise stdev must be a finite number ≥ 0.*got nan"),
    ("stdev inf", noisy(stdev=float("inf")), ValueError, r"noise stdev must be a finite number ≥ 0"),
    ("stdev string", noisy(stdev="0.1"), ValueError, r"noise stdev must be a finite number"),
    ("type unknown", noisy(type="smooth"), ValueError, r"noise type must be one of \('smoothgrad'"),
    ("key unknown", noisy(stdevs=1.0), ValueError, r"unknown noise key\(s\) \['stdevs'\]; the keys are"),
    ("not a dict", lambda: explain(MODEL, X, noise="smoothgrad"), TypeError, r"noise must be None, a dict"),
    ("seed -1", noisy(seed=-1), ValueError, r"noise seed must be an int in \[0, 2\*\*63\)"),
    ("image_keys too few", noisy(image_keys=[7]), ValueError, r"image_keys holds 1 keys for 2 input images"),
    ("image_keys too many", noisy(image_keys=[7, 8, 9]), ValueError, r"holds 3 keys for 2 input images"),
    ("image_keys negative", noisy(image_keys=[0, -1]), ValueError, r"image_keys must be a list of ints"),
    ("image_keys string", noisy(image_keys="ab"), ValueError, r"image_keys must be a list of ints"),
    ("image_keys floats", noisy(image_keys=[1.0, 2.0]), ValueError, r"image_keys must be a list of ints"),
    ("image_keys an int", noisy(image_keys=3), ValueError, r"image_keys must be a list of ints"),
    ("image_keys repeated", noisy(image_keys=[4, 4]), ValueError, r"image_keys must be distinct"),
]


def several(baselines, **options):
    return lambda: explain(MODEL, X, steps=2, baselines=baselines, **options)


BASELINES = [
    ("none in the list", several([]), ValueError, r"baselines is an empty list"),
    (
        "one of the wrong shape",
        several([0.0, torch.zeros(1, 3, 7, 8)]),
        ValueError,
        r"baselines of shape \(1, 3, 7, 8\) cannot be broadcast to inputs of shape \(2, 3, 8, 8\)",
    ),
    (
        "one of another batch",
        several([torch.zeros(3, 3, 8, 8)]),
        ValueError,
        r"batch size 3 but inputs has 2",
    ),
    ("a string among them", several([0.0, "white"]), TypeError, r"None, a number or a torch.Tensor; got str"),
    ("a NaN among them", several([0.0, NAN]), ValueError, r"baselines contains 384 NaN or Inf"),
    (
        "and a noise tunnel",
        several([0.0, 1.0], noise={"samples": 2}),
        ValueError,
        r"either several baselines",
    ),
    ("for Blur IG", several([0.0, 1.0], method="blur_ig"), ValueError, r"blur_ig has no baselines argument"),
]

SCHEDULES = [
    ("decreasing", scheduled([0.0, 0.6, 0.4, 1.0]), ValueError, r"strictly increasing; α_2 = 0.4 does not"),
    ("repeated point", scheduled([0.0, 0.5, 0.5, 1.0]), ValueError, r"strictly increasing"),
    ("not from 0", scheduled([0.1, 0.5, 1.0]), ValueError, r"must start at 0 .* and end at 1"),
    ("not ending at 1", scheduled([0.0, 0.5, 0.9]), ValueError, r"must start at 0 .* and end at 1"),
    ("NaN", scheduled([0.0, NAN, 1.0]), ValueError, r"schedule holds NaN or Inf"),
    ("2-D", scheduled([[0.0, 0.5, 1.0]]), ValueError, r"1-D sequence of at least two positions"),
    ("one point", scheduled([0.0]), ValueError, r"1-D sequence of at least two positions, got shape \(1,\)"),
    ("empty", scheduled([]), ValueError, r"at least two positions, got shape \(0,\)"),
    ("strings", scheduled(["0", "0.5", "1"]), TypeError, r"schedule must be a 1-D sequence of path"),
    ("a string", scheduled("fast"), TypeError, r"schedule must be a 1-D sequence of path positions"),
    ("None inside", scheduled([0.0, None, 1.0]), TypeError, r"schedule must be a 1-D sequence"),
    ("a dict", scheduled({"positions": [0, 1]}), TypeError, r"schedule must be a 1-D sequence.*got dict"),
    (
        "bool tensor",
        scheduled(torch.tensor([False, True])),
        TypeError,
        r"real path positions from 0 to 1, got dtype torch.bool",
    ),
    (
        "complex tensor",
        scheduled(torch.tensor([0.0, 0.5, 1.0], dtype=torch.complex64)),
        TypeError,
        r"got dtype torch.complex64",
    ),
    (
        "disagreeing steps",
        scheduled([0.0, 0.3, 1.0], steps=4),
        ValueError,
        r"steps=4 but the schedule has m = 2 intervals; leave steps out or give 2",
    ),
    (
        "with compute_at",
        scheduled([0.0, 0.3, 1.0], compute_at=[1]),
        ValueError,
        r"compute_at needs the uniform",
    ),
    (
        "with rule pair",
        scheduled([0.0, 0.3, 1.0], rule="pair"),
        ValueError,
        r"rule='pair' .* no schedule form",
    ),
    (
        "fitted for another method",
        scheduled(Schedule((0.0, 0.3, 1.0), "blur_ig")),
        ValueError,
        r"this schedule was fitted for blur_ig, not ig",
    ),
]

PRECISION_AND_GRAPHS = [
    ("precision fp16", lambda: explain(MODEL, X, precision="fp16"), ValueError, r"precision must be one of"),
    ("precision None", lambda: explain(MODEL, X, precision=None), ValueError, r"precision must be one of"),
    (
        "precision FP32",
        lambda: explain(MODEL, X, precision="FP32"),
        ValueError,
        r"\('fp32', 'tf32', 'bf16'\)",
    ),
    (
        "class precision",
        lambda: IG(MODEL, precision="half"),
        ValueError,
        r"precision must be one of",
    ),
    (
        "graphs=True without CUDA",
        lambda: explain(MODEL, X, steps=2, graphs=True),
        ValueError,
        r"graphs=True captures CUDA graphs and needs CUDA tensors; these are on cpu.*graphs=False",
    ),
    ("graphs 'on'", lambda: explain(MODEL, X, graphs="on"), TypeError, r"graphs must be True, False or None"),
    ("graphs 1", lambda: explain(MODEL, X, graphs=1), TypeError, r"graphs must be True, False or None"),
    (
        "evaluate graphs=True without CUDA",
        lambda: evaluate(MODEL, X, ATTRIBUTION, metrics=["insertion"], graphs=True),
        ValueError,
        r"needs CUDA tensors",
    ),
    (
        "evaluate graphs 'yes'",
        lambda: evaluate(MODEL, X, ATTRIBUTION, metrics=["insertion"], graphs="yes"),
        TypeError,
        r"graphs must be True, False or None",
    ),
    (
        "class graphs",
        lambda: IG(MODEL, graphs="x").attribute(X, steps=2),
        TypeError,
        r"graphs must be True, False or None",
    ),
]


def shap(baselines=ROWS, inputs=X, **options):
    return lambda: gradient_shap(MODEL, inputs, baselines, **{"target": 0, "samples": 2, **options})


GRADIENT_SHAP = [
    ("samples 0", shap(samples=0), ValueError, r"^samples must be an int ≥ 1, got 0"),
    ("stdev -0.5", shap(stdev=-0.5), ValueError, r"^stdev must be a finite number ≥ 0"),
    ("stdev NaN", shap(stdev=NAN), ValueError, r"^stdev must be a finite number ≥ 0"),
    ("seed -3", shap(seed=-3), ValueError, r"^seed must be an int in \[0, 2\*\*63\)"),
    ("image_keys", shap(image_keys=[1]), ValueError, r"image_keys holds 1 keys for 2 input images"),
    ("no baselines", shap(None), TypeError, r"baselines must be a \(K, …\) tensor of baseline rows or a"),
    ("empty list", shap([]), TypeError, r"non-empty list of baselines"),
    ("a scalar", shap(0.0), TypeError, r"baselines must be a \(K, …\) tensor"),
    ("rows of another shape", shap(torch.zeros(2, 3, 7, 8)), ValueError, r"rows shaped like one input"),
    (
        "no rows",
        shap(torch.zeros(0, 3, 8, 8)),
        ValueError,
        r"rows shaped like one input .* got \(0, 3, 8, 8\)",
    ),
    ("NaN rows", shap(with_nan(ROWS)), ValueError, r"baselines contains 1 NaN or Inf"),
    ("list of another batch", shap([torch.zeros(3, 3, 8, 8)]), ValueError, r"baselines has batch size 3"),
    ("NaN inputs", shap(inputs=with_nan()), ValueError, r"inputs contains 1 NaN or Inf"),
    ("output", shap(output="log"), ValueError, r"output must be one of"),
    ("target", shap(target=9), ValueError, r"target must lie in \[0, 5\)"),
    ("batch_size 0", shap(batch_size=0), ValueError, r"batch_size must be None or an int ≥ 1"),
    ("model", lambda: gradient_shap("m", X, ROWS), TypeError, r"model must be an nn.Module or a callable"),
]

XRAI = [
    ("no attribution, no model", lambda: xrai(X), ValueError, r"give attributions, or a model"),
    ("attribution shape", lambda: xrai(X, ATTRIBUTION[:, :1]), ValueError, r"shaped like the images"),
    ("attribution NaN", lambda: xrai(X, with_nan(ATTRIBUTION)), ValueError, r"attributions contains 1 NaN"),
    ("attribution array", lambda: xrai(X, ATTRIBUTION.numpy()), TypeError, r"attributions must be a float"),
    ("images above 1", lambda: xrai(X * 255, ATTRIBUTION), ValueError, r"images must lie in \[0, 1\].*255"),
    ("images below 0", lambda: xrai(X - 0.5, ATTRIBUTION), ValueError, r"images must lie in \[0, 1\]"),
    ("images NaN", lambda: xrai(with_nan(), ATTRIBUTION), ValueError, r"images contains 1 NaN or Inf"),
    ("images uint8", lambda: xrai((X * 255).byte(), ATTRIBUTION), TypeError, r"got torch.uint8"),
    ("images a list", lambda: xrai([X], ATTRIBUTION), TypeError, r"images must be a floating-point"),
    ("images 3-D", lambda: xrai(X[0], ATTRIBUTION[0]), ValueError, r"non-empty \(B, C, H, W\) batch"),
    ("images empty", lambda: xrai(X[:0], ATTRIBUTION[:0]), ValueError, r"non-empty \(B, C, H, W\) batch"),
    ("area_threshold 1.5", lambda: xrai(X, ATTRIBUTION, area_threshold=1.5), ValueError, r"in \[0, 1\]"),
    ("area_threshold NaN", lambda: xrai(X, ATTRIBUTION, area_threshold=NAN), ValueError, r"in \[0, 1\]"),
    ("area_threshold '1'", lambda: xrai(X, ATTRIBUTION, area_threshold="1"), TypeError, r"must be a number"),
    ("min_pixel_diff -1", lambda: xrai(X, ATTRIBUTION, min_pixel_diff=-1), ValueError, r"int ≥ 0, got -1"),
    ("dilation_radius -1", lambda: xrai(X, ATTRIBUTION, dilation_radius=-1), ValueError, r"int ≥ 0"),
    (
        "segments of one image for two",
        lambda: xrai(X, ATTRIBUTION, segments=[torch.ones(1, 8, 8, dtype=torch.bool)]),
        ValueError,
        r"segments holds 1 images' masks for 2 images",
    ),
    (
        "segments of another size",
        lambda: xrai(X, ATTRIBUTION, segments=[torch.ones(1, 4, 4, dtype=torch.bool)] * 2),
        ValueError,
        r"segments\[0\] has masks of \(4, 4\), the images are \(8, 8\)",
    ),
]


def pair_mask(mask, profile="pair"):
    return lambda: evaluate(
        MODEL,
        X,
        ATTRIBUTION,
        metrics=["sic"],
        information="entropy",
        pic_profile=profile,
        pair_random_mask=mask,
    )


PAIR_MASK = [
    (
        "shape",
        pair_mask(torch.zeros(4, 4, dtype=torch.bool)),
        ValueError,
        r"\(H, W\) = \(8, 8\) bool .*\(4, 4\)",
    ),
    ("dtype", pair_mask(torch.zeros(8, 8)), ValueError, r"bool tensor or array .* torch.float32"),
    ("3-D", pair_mask(torch.zeros(1, 8, 8, dtype=torch.bool)), ValueError, r"got \(1, 8, 8\)"),
    ("a string", pair_mask("corners"), ValueError, r"pair_random_mask must be an \(H, W\)"),
    ("integer array", pair_mask(np.zeros((8, 8), dtype=np.int64)), ValueError, r"bool tensor or array"),
    (
        "with the blur profile",
        pair_mask(torch.zeros(8, 8, dtype=torch.bool), profile="blur"),
        ValueError,
        r"pair_random_mask sets the pair profile's random pixels, but pic_profile is 'blur'",
    ),
]


def tunnel(inputs=X, **options):
    return lambda: CaptumNoiseTunnel(CaptumIG(MODEL)).attribute(
        inputs, **{"target": 0, "n_steps": 2, **options}
    )


def captum_shap(baselines=ROWS, inputs=X, **options):
    return lambda: CaptumGradientShap(MODEL).attribute(inputs, baselines, **{"target": 0, **options})


CAPTUM = [
    ("NT around a model", lambda: CaptumNoiseTunnel(MODEL), TypeError, r"attribution_method must be an"),
    ("NT nt_type", tunnel(nt_type="sg"), ValueError, r"nt_type must be one of"),
    ("NT nt_samples 0", tunnel(nt_samples=0), ValueError, r"nt_samples must be an int ≥ 1, got 0"),
    ("NT batch size 0", tunnel(nt_samples_batch_size=0), ValueError, r"nt_samples_batch_size must be an int"),
    ("NT stdevs -1", tunnel(stdevs=-1.0), ValueError, r"stdevs must be a finite number ≥ 0"),
    ("NT stdevs NaN", tunnel(stdevs=NAN), ValueError, r"stdevs must be a finite number ≥ 0"),
    ("NT stdevs per input", tunnel(stdevs=(0.1, 0.2)), ValueError, r"a tuple of one per input \(1\)"),
    ("NT baseline draws", tunnel(draw_baseline_from_distrib=True, baselines=X[0]), ValueError, r"as rows"),
    ("NT unknown keyword", tunnel(n_stepz=3), TypeError, r"unexpected keyword argument 'n_stepz'"),
    ("NT inputs a list", tunnel([X]), TypeError, r"inputs must be a tensor or a non-empty tuple"),
    ("NT inputs NaN", tunnel(with_nan()), ValueError, r"inputs contains 1 NaN or Inf"),
    ("GS not callable", lambda: CaptumGradientShap(3), TypeError, r"forward_func must be callable"),
    ("GS no baselines", captum_shap(None), ValueError, r"baselines must be a distribution of baselines"),
    ("GS a scalar", captum_shap(0.0), ValueError, r"baselines must be a distribution"),
    ("GS rows' shape", captum_shap(torch.zeros(2, 3, 7, 8)), ValueError, r"rows shaped like one example"),
    ("GS callable's", captum_shap(lambda x: 3), ValueError, r"baselines must be a distribution"),
    ("GS NaN rows", captum_shap(with_nan(ROWS)), ValueError, r"baselines contains 1 NaN or Inf"),
    ("GS NaN inputs", captum_shap(inputs=with_nan()), ValueError, r"inputs contains 1 NaN or Inf"),
    ("GS n_samples 0", captum_shap(n_samples=0), ValueError, r"n_samples must be an int ≥ 1, got 0"),
    ("GS stdevs -1", captum_shap(stdevs=-1.0), ValueError, r"stdevs must be a finite number ≥ 0"),
    ("GS target 7", captum_shap(target=7), ValueError, r"target 7 is out of range .* \(B, 5\)"),
    ("GS batch 0", captum_shap(internal_batch_size=0), ValueError, r"internal_batch_size must be None or"),
    ("GS delta 'yes'", captum_shap(return_convergence_delta="yes"), TypeError, r"must be True or False"),
]

TABLE = [
    (f"{table} {case[0]}", *case[1:])
    for table, cases in (
        ("noise", NOISE),
        ("baselines", BASELINES),
        ("schedule", SCHEDULES),
        ("precision/graphs", PRECISION_AND_GRAPHS),
        ("gradient_shap", GRADIENT_SHAP),
        ("xrai", XRAI),
        ("pair mask", PAIR_MASK),
        ("captum", CAPTUM),
    )
    for case in cases
]


@pytest.mark.parametrize(
    "call, error, message", [case[1:] for case in TABLE], ids=[case[0] for case in TABLE]
)
def test_bad_input_is_refused_with_the_argument_and_the_fix(call, error, message):
    with pytest.raises(error, match=message):
        call()


SCHEDULE_FILES = [
    ("not JSON", "{positions", r"is not a readable schedule file: Expecting"),
    ("not UTF-8", b"\x89PNG\r\n", r"is not a readable schedule file: 'utf-8' codec"),
    ("a list", "[1, 2]", r"is not a schedule file of format 1"),
    (
        "another format",
        '{"format": 2, "positions": [0, 1], "method": "ig"}',
        r"not a schedule file of format 1",
    ),
    (
        "no positions",
        '{"format": 1, "method": "ig"}',
        r"not a valid schedule file: .*missing \['positions'\]",
    ),
    ("an unknown key", '{"format": 1, "positions": [0, 1], "method": "ig", "m": 3}', r"unknown \['m'\]"),
    ("positions a string", '{"format": 1, "positions": "0,1", "method": "ig"}', r"positions must be a list"),
    ("decreasing", '{"format": 1, "positions": [0, 0.7, 0.4, 1], "method": "ig"}', r"strictly increasing"),
    ("unknown method", '{"format": 1, "positions": [0, 1], "method": "lime"}', r"method must be one of"),
    (
        "a bad parameter",
        '{"format": 1, "positions": [0, 1], "method": "ig", "params": {"rule": "simpson"}}',
        r"not a valid schedule file: rule must be one of",
    ),
    (
        "params a list",
        '{"format": 1, "positions": [0, 1], "method": "ig", "params": [1]}',
        r"params must be a dict",
    ),
    (
        "rule pair",
        '{"format": 1, "positions": [0, 0.3, 1], "method": "ig", "params": {"rule": "pair"}}',
        r"IG rule is 'pair' .* no schedule form",
    ),
]


@pytest.mark.parametrize(
    "content, message", [case[1:] for case in SCHEDULE_FILES], ids=[case[0] for case in SCHEDULE_FILES]
)
def test_a_bad_schedule_file_is_named_with_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "schedule.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=f"^{path}.*{message}"):
        Schedule.load(path)


def test_numpy_numbers_are_numbers_and_the_noise_they_give_is_the_same():
    """What the checks accept they accept for numpy's scalars too (a dataset index, a swept stdev)."""
    plain = explain(MODEL, X, target=0, steps=2, noise={"stdev": 0.25, "samples": 2, "image_keys": [3, 9]})
    numpy = explain(
        MODEL,
        X,
        target=0,
        steps=2,
        noise={"stdev": np.float32(0.25), "samples": np.int64(2), "image_keys": np.array([3, 9])},
    )
    assert torch.equal(plain.idgi, numpy.idgi)  # the same draws: the checks convert, nothing else differs
