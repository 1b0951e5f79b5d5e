"""IntegratedGradients beside Captum's: every input, baseline, target and additional-argument form
Captum takes, every quadrature rule, the convergence delta (returned and computed afterwards) and
the API around `attribute` — the same results to TOLERANCE, the same answers."""

from __future__ import annotations

import pytest
import torch
from conformance import TOLERANCE, GridOutput, OneInput, ScalarOutput, TwoInputs, assert_same, examples

from idgi_fast import captum as ours

captum_attr = pytest.importorskip("captum.attr")


def _shift(x):
    return torch.tensor([[0.5, -1.0, 0.25], [0.0, 2.0, -0.5], [1.5, 0.1, 0.3]], dtype=x.dtype)


ONE, TWO = (lambda x, f: x), (lambda x, f: (x, f))
# (name, model, inputs from (image, features), keyword arguments from (image, features))
CASES = [
    ("tensor input, int target", OneInput, ONE, lambda x, f: dict(target=1)),
    ("tuple inputs", TwoInputs, TWO, lambda x, f: dict(target=2)),
    ("0-d tensor target", TwoInputs, TWO, lambda x, f: dict(target=torch.tensor(0))),
    ("one-element tensor target for all", OneInput, ONE, lambda x, f: dict(target=torch.tensor([2]))),
    ("list target", TwoInputs, TWO, lambda x, f: dict(target=[0, 2, 1])),
    ("tensor target per example", OneInput, ONE, lambda x, f: dict(target=torch.tensor([1, 1, 0]))),
    ("tuple target", GridOutput, ONE, lambda x, f: dict(target=(1, 2))),
    ("list of tuple targets", GridOutput, ONE, lambda x, f: dict(target=[(0, 1), (1, 0), (1, 2)])),
    ("no target, one output per example", ScalarOutput, ONE, lambda x, f: dict(target=None)),
    ("int baseline", OneInput, ONE, lambda x, f: dict(target=0, baselines=1)),
    ("float baselines per input", TwoInputs, TWO, lambda x, f: dict(target=1, baselines=(0.5, -0.25))),
    ("baselines per example", TwoInputs, TWO, lambda x, f: dict(target=1, baselines=(x * 0.3, f.flip(0)))),
    ("one baseline row", TwoInputs, TWO, lambda x, f: dict(target=0, baselines=(x[:1] * 0.1, 0 * f[:1]))),
    ("number and tensor baselines", TwoInputs, TWO, lambda x, f: dict(target=2, baselines=(0.2, f * 0.5))),
    ("tensor argument", TwoInputs, TWO, lambda x, f: dict(target=0, additional_forward_args=(_shift(x),))),
    (
        "tensor and number arguments",
        TwoInputs,
        TWO,
        lambda x, f: dict(additional_forward_args=(_shift(x), 0.5)),
    ),
    (
        "argument not in a tuple",
        OneInput,
        ONE,
        lambda x, f: dict(target=2, additional_forward_args=_shift(x)),
    ),
]


def _run(implementation, model, inputs, options, **settings):
    return implementation.IntegratedGradients(model, **settings).attribute(
        inputs, return_convergence_delta=True, **options
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name,model,inputs,keywords", CASES, ids=[case[0] for case in CASES])
def test_every_form_gives_captums_attributions_and_delta(name, model, inputs, keywords, dtype):
    x, f = examples(dtype)
    model = model().to(dtype)
    options = dict(n_steps=6, method="riemann_trapezoid", target=[2, 0, 1]) | keywords(x, f)
    theirs, their_delta = _run(captum_attr, model, inputs(x, f), options)
    mine, my_delta = _run(ours, model, inputs(x, f), dict(options, internal_batch_size=4))
    assert_same(mine, theirs, dtype)
    torch.testing.assert_close(my_delta, their_delta, **TOLERANCE[dtype])
    # the returned delta is the one compute_convergence_delta gives afterwards, bit for bit
    afterwards = ours.IntegratedGradients(model).compute_convergence_delta(
        mine,
        options.get("baselines"),
        inputs(x, f),
        target=options.get("target"),
        additional_forward_args=options.get("additional_forward_args"),
    )
    assert torch.equal(afterwards, my_delta)


@pytest.mark.parametrize("method", ours.METHODS)
@pytest.mark.parametrize("n_steps,internal_batch_size", [(2, None), (7, 1), (13, 5)])
@pytest.mark.parametrize("multiply_by_inputs", [True, False])
def test_every_rule_step_count_and_batch_gives_captums_result(
    method, n_steps, internal_batch_size, multiply_by_inputs
):
    x, f = examples()
    model = TwoInputs().double()
    options = dict(target=[1, 0, 2], n_steps=n_steps, method=method, baselines=(0.1, f * 0.2))
    settings = dict(multiply_by_inputs=multiply_by_inputs)
    theirs, their_delta = _run(captum_attr, model, (x, f), options, **settings)
    mine, my_delta = _run(
        ours, model, (x, f), dict(options, internal_batch_size=internal_batch_size), **settings
    )
    assert_same(mine, theirs)
    torch.testing.assert_close(my_delta, their_delta, **TOLERANCE[torch.float64])


START_POINTS = [
    ("None", lambda x, f: None),
    ("numbers", lambda x, f: (0.5, -1)),
    ("tensors", lambda x, f: (x * 0.2, f.flip(0))),
    ("one row and a number", lambda x, f: (x[:1], 0.0)),
]


@pytest.mark.parametrize("name,start", START_POINTS, ids=[case[0] for case in START_POINTS])
@pytest.mark.parametrize("target", [1, [2, 0, 1], torch.tensor([0, 0, 2])])
def test_compute_convergence_delta_matches_captum_for_any_attributions(name, start, target):
    x, f = examples()
    model = TwoInputs().double()
    generator = torch.Generator().manual_seed(9)
    attributions = (
        torch.randn(x.shape, generator=generator, dtype=x.dtype),
        torch.randn(f.shape, generator=generator, dtype=f.dtype),
    )
    arguments = (torch.ones(3, 3, dtype=x.dtype), 2.0)
    found = [
        implementation.IntegratedGradients(model).compute_convergence_delta(
            attributions, start(x, f), (x, f), target=target, additional_forward_args=arguments
        )
        for implementation in (captum_attr, ours)
    ]
    torch.testing.assert_close(found[1], found[0], **TOLERANCE[torch.float64])


def test_convergence_delta_of_a_target_naming_several_outputs_sums_them_as_captum_does():
    """compute_convergence_delta takes any target; a row of outputs counts as its sum."""
    x, _ = examples()
    attributions = torch.rand_like(x)
    found = [
        implementation.IntegratedGradients(GridOutput()).compute_convergence_delta(
            attributions, 0.3, x, target=1
        )
        for implementation in (captum_attr, ours)
    ]
    torch.testing.assert_close(found[1], found[0], **TOLERANCE[torch.float64])


@pytest.mark.parametrize("multiply_by_inputs", [True, False])
def test_api_around_attribute_is_captums(multiply_by_inputs):
    model = OneInput().double()
    theirs = captum_attr.IntegratedGradients(model, multiply_by_inputs=multiply_by_inputs)
    mine = ours.IntegratedGradients(model, multiply_by_inputs=multiply_by_inputs)
    assert mine.multiplies_by_inputs == theirs.multiplies_by_inputs == multiply_by_inputs
    assert mine.has_convergence_delta() == theirs.has_convergence_delta()
    assert mine.forward_func is theirs.forward_func is model
    for instance in (theirs, mine):
        with pytest.raises(NotImplementedError):
            instance.attribute_future()
