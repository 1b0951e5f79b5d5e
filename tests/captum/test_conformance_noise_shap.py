"""NoiseTunnel and GradientShap beside Captum's: the three noise types over this package's methods
and over Captum's own (Saliency, InputXGradient, DeepLift, FeatureAblation), sample batching,
baselines drawn from a distribution, GradientShap's baseline forms — given the same seeds, the
same results to TOLERANCE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conformance import TOLERANCE, OneInput, TwoInputs, assert_same, examples

from idgi_fast import captum as ours

captum_attr = pytest.importorskip("captum.attr")

NT_TYPES = ["smoothgrad", "smoothgrad_sq", "vargrad"]


def _seeded(call, seed: int = 4):
    np.random.seed(seed)
    torch.manual_seed(seed)
    return call()


def _tunnels(method, model, **settings):
    """(Captum's NoiseTunnel over Captum's method, ours over the method on our side): over Captum's
    IntegratedGradients and GradientShap ours wraps our drop-ins; over any other Captum method,
    that same Captum method."""
    theirs = getattr(captum_attr, method)(model, **settings)
    mine = getattr(ours, method)(model, **settings) if hasattr(ours, method) else theirs
    return captum_attr.NoiseTunnel(theirs), ours.NoiseTunnel(mine)


CAPTUM_METHODS = [
    ("Saliency", {}, dict(abs=False)),
    ("InputXGradient", {}, {}),
    ("DeepLift", {}, {}),
    ("FeatureAblation", {}, {}),
]


@pytest.mark.parametrize("nt_type", NT_TYPES)
@pytest.mark.parametrize("method,settings,options", CAPTUM_METHODS, ids=[m[0] for m in CAPTUM_METHODS])
@pytest.mark.parametrize("nt_samples,per_batch", [(4, None), (5, 2)])
def test_noise_tunnel_over_captums_methods_gives_captums_result(
    nt_type, method, settings, options, nt_samples, per_batch
):
    x, f = examples(torch.float32)
    model = TwoInputs()
    theirs, mine = _tunnels(method, model, **settings)
    arguments = dict(
        nt_type=nt_type,
        nt_samples=nt_samples,
        nt_samples_batch_size=per_batch,
        stdevs=(0.1, 0.3),
        target=[0, 2, 1],
        additional_forward_args=(torch.ones(3, 3), 0.5),
        **options,
    )
    expected = _seeded(lambda: theirs.attribute((x, f), **arguments))
    found = _seeded(lambda: mine.attribute((x, f), **arguments))
    assert_same(found, expected, torch.float32)
    assert mine.multiplies_by_inputs == theirs.multiplies_by_inputs
    assert mine.has_convergence_delta() == theirs.has_convergence_delta()


@pytest.mark.parametrize("nt_type", NT_TYPES)
@pytest.mark.parametrize("draw", [False, True])
def test_noise_tunnel_over_integrated_gradients_with_baselines_drawn_or_given(nt_type, draw):
    x, f = examples()
    model = TwoInputs().double()
    theirs, mine = _tunnels("IntegratedGradients", model)
    rows = (torch.rand(5, 2, 3, dtype=x.dtype), torch.randn(5, 4, dtype=f.dtype))
    arguments = dict(
        nt_type=nt_type,
        nt_samples=5,
        nt_samples_batch_size=3,
        stdevs=0.2,
        draw_baseline_from_distrib=draw,
        baselines=rows if draw else (x * 0.5, 0.1),
        target=torch.tensor([2, 1, 0]),
        n_steps=5,
        return_convergence_delta=True,
    )
    expected, expected_delta = _seeded(lambda: theirs.attribute((x, f), **arguments))
    found, delta = _seeded(lambda: mine.attribute((x, f), internal_batch_size=7, **arguments))
    assert_same(found, expected)
    torch.testing.assert_close(delta, expected_delta, **TOLERANCE[torch.float64])


@pytest.mark.parametrize("multiply_by_inputs", [True, False])
def test_noise_tunnel_over_gradient_shap_gives_captums_result(multiply_by_inputs):
    x, f = examples()
    model = TwoInputs().double()
    theirs, mine = _tunnels("GradientShap", model, multiply_by_inputs=multiply_by_inputs)
    rows = (torch.rand(4, 2, 3, dtype=x.dtype), torch.randn(4, 4, dtype=f.dtype))
    arguments = dict(nt_type="vargrad", nt_samples=3, stdevs=0.05, baselines=rows, target=1, n_samples=4)
    arguments["draw_baseline_from_distrib"] = True  # Captum's tunnel takes a distribution only so
    expected = _seeded(lambda: theirs.attribute((x, f), **arguments))
    assert_same(_seeded(lambda: mine.attribute((x, f), **arguments)), expected)
    assert mine.multiplies_by_inputs == theirs.multiplies_by_inputs == multiply_by_inputs


def _rows(x):
    return torch.linspace(-1, 1, 4 * x[0].numel(), dtype=x.dtype).reshape(4, *x.shape[1:])


BASELINE_FORMS = [
    ("tensor", False, lambda x, f: _rows(x)),
    ("tuple of tensors", True, lambda x, f: (_rows(x), _rows(f))),
    ("function of nothing", False, lambda x, f: lambda: _rows(x)),
    ("function of the inputs", False, lambda x, f: lambda inputs: _rows(inputs) * 0.5),
    ("function of tuple inputs", True, lambda x, f: lambda inputs: tuple(_rows(t) for t in inputs)),
]


@pytest.mark.parametrize("name,two,baselines", BASELINE_FORMS, ids=[form[0] for form in BASELINE_FORMS])
@pytest.mark.parametrize("target", [1, torch.tensor(2), [0, 2, 1], torch.tensor([1, 1, 0])])
def test_gradient_shap_every_baseline_and_target_form_gives_captums_result(name, two, baselines, target):
    x, f = examples()
    model = (TwoInputs if two else OneInput)().double()
    inputs = (x, f) if two else x
    arguments = dict(n_samples=6, stdevs=0.1, target=target, return_convergence_delta=True)
    expected, expected_delta = _seeded(
        lambda: captum_attr.GradientShap(model).attribute(inputs, baselines(x, f), **arguments)
    )
    found, delta = _seeded(lambda: ours.GradientShap(model).attribute(inputs, baselines(x, f), **arguments))
    assert_same(found, expected)
    torch.testing.assert_close(delta, expected_delta, **TOLERANCE[torch.float64])


def test_gradient_shap_convergence_delta_and_api_are_captums():
    x, f = examples()
    model = TwoInputs().double()
    theirs, mine = captum_attr.GradientShap(model), ours.GradientShap(model)
    attributions = (torch.rand_like(x), torch.rand_like(f))
    start = (torch.rand_like(x), 0.5)
    torch.testing.assert_close(
        mine.compute_convergence_delta(attributions, start, (x, f), target=[2, 0, 1]),
        theirs.compute_convergence_delta(attributions, start, (x, f), target=[2, 0, 1]),
        **TOLERANCE[torch.float64],
    )
    assert mine.multiplies_by_inputs == theirs.multiplies_by_inputs
    assert mine.has_convergence_delta() == theirs.has_convergence_delta()
    for instance in (theirs, mine, captum_attr.NoiseTunnel(theirs), ours.NoiseTunnel(mine)):
        with pytest.raises(NotImplementedError):
            instance.attribute_future()
