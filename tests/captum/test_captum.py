"""idgi_fast.captum against Captum itself (a test-only dependency), and its IDGI class against explain()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import idgi_fast
from idgi_fast import captum as ours

captum_attr = pytest.importorskip("captum.attr")

from conftest import TinyCNN  # noqa: E402

METHODS = ["riemann_right", "riemann_left", "riemann_middle", "riemann_trapezoid", "gausslegendre"]


class TwoInputs(nn.Module):
    """Logits (N, 4) from an image and a feature vector, scaled by an extra argument."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.cnn = TinyCNN(classes=4)
        self.linear = nn.Linear(5, 4)

    def forward(self, image, features, scale=1.0):
        return self.cnn(image) + torch.tanh(self.linear(features)) * scale


@pytest.fixture
def two_inputs():
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(3, 3, 9, 11, generator=generator, dtype=torch.float64)
    features = torch.randn(3, 5, generator=generator, dtype=torch.float64)
    return TwoInputs().double().eval(), image, features


def close(a, b):
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_matches_captum(method, two_inputs):
    model, image, features = two_inputs
    options = dict(target=2, n_steps=7, method=method, return_convergence_delta=True)
    theirs, their_delta = captum_attr.IntegratedGradients(model).attribute((image, features), **options)
    mine, my_delta = ours.IntegratedGradients(model).attribute(
        (image, features), internal_batch_size=5, **options
    )
    assert isinstance(mine, tuple) and len(mine) == 2
    for a, b in zip(mine, theirs):
        close(a, b)
    close(my_delta, their_delta)


def test_targets_baselines_arguments_and_options_match_captum(two_inputs):
    model, image, features = two_inputs
    cases = [
        dict(target=[0, 3, 1], baselines=(0.1, torch.zeros(1, 5, dtype=torch.float64))),
        dict(target=torch.tensor([2, 2, 0]), additional_forward_args=(0.5,)),
        dict(target=torch.tensor(1), baselines=(image * 0.3, features.flip(0))),
    ]
    for case in cases:
        theirs = captum_attr.IntegratedGradients(model).attribute((image, features), n_steps=6, **case)
        mine = ours.IntegratedGradients(model).attribute((image, features), n_steps=6, **case)
        for a, b in zip(mine, theirs):
            close(a, b)
    plain = captum_attr.IntegratedGradients(model, multiply_by_inputs=False).attribute(
        (image, features), target=1, n_steps=5, method="riemann_middle"
    )
    mine = ours.IntegratedGradients(model, multiply_by_inputs=False).attribute(
        (image, features), target=1, n_steps=5, method="riemann_middle", internal_batch_size=3
    )
    for a, b in zip(mine, plain):
        close(a, b)


def test_single_tensor_and_tuple_targets_on_a_three_dimensional_output():
    class Grid(nn.Module):
        def forward(self, x):
            return torch.stack([x.sum(1) ** 2, torch.sin(x).sum(1)], dim=1).view(-1, 2, 1).expand(
                -1, 2, 3
            ) * torch.arange(1.0, 4.0, dtype=x.dtype)

    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    for target in [(1, 2), [(0, 1), (1, 0), (1, 2), (0, 0)]]:
        theirs = captum_attr.IntegratedGradients(Grid()).attribute(x, target=target, n_steps=9)
        mine = ours.IntegratedGradients(Grid()).attribute(x, target=target, n_steps=9)
        assert isinstance(mine, torch.Tensor)
        close(mine, theirs)
    scalar = lambda v: (v**2).sum(1)  # noqa: E731 - one output per example, target None
    close(
        ours.IntegratedGradients(scalar).attribute(x, n_steps=9),
        captum_attr.IntegratedGradients(scalar).attribute(x, n_steps=9),
    )


def test_idgi_class_equals_explain_and_is_complete(tiny_cnn64, images64):
    model = tiny_cnn64
    result = idgi_fast.explain(
        model,
        images64,
        target=[1, 3],
        method="ig",
        steps=12,
        output="logit",
        baselines=0.2,
        backend="reference",
    )
    mine, delta = ours.IDGI(model).attribute(
        images64,
        baselines=0.2,
        target=[1, 3],
        n_steps=12,
        internal_batch_size=5,
        return_convergence_delta=True,
    )
    close(mine, result.idgi)
    assert float(delta.abs().max()) < 1e-12  # IDGI sums to F(x) − F(x′)


def test_bad_arguments_get_clear_errors():
    model = TinyCNN().double().eval()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="method must be one of"):
        ours.IntegratedGradients(model).attribute(x, target=0, method="simpson")
    with pytest.raises(ValueError, match="n_steps must be an int"):
        ours.IntegratedGradients(model).attribute(x, target=0, n_steps=0)
    with pytest.raises(ValueError, match="target=None needs one output per example"):
        ours.IntegratedGradients(model).attribute(x)
    with pytest.raises(ValueError, match="baselines has 2 entries for 1 inputs"):
        ours.IntegratedGradients(model).attribute(x, baselines=(0.0, 0.0), target=0)


@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
@pytest.mark.parametrize("samples,per_batch", [(4, None), (5, 2)])
def test_noise_tunnel_matches_captum_given_the_same_seed(nt_type, samples, per_batch, two_inputs):
    """The same torch.manual_seed gives Captum's noise, so the same result, with per-example
    targets and baselines expanded beside their noisy copies, tuple inputs and deltas."""
    model, image, features = two_inputs
    options = dict(
        nt_type=nt_type,
        nt_samples=samples,
        nt_samples_batch_size=per_batch,
        stdevs=(0.2, 0.05),
        target=torch.tensor([0, 3, 1]),
        baselines=(image * 0.5, torch.zeros(1, 5, dtype=torch.float64)),
        n_steps=6,
        method="riemann_trapezoid",
        return_convergence_delta=True,
    )
    torch.manual_seed(7)
    theirs, their_delta = captum_attr.NoiseTunnel(captum_attr.IntegratedGradients(model)).attribute(
        (image, features), **options
    )
    torch.manual_seed(7)
    mine, my_delta = ours.NoiseTunnel(ours.IntegratedGradients(model)).attribute(
        (image, features), internal_batch_size=4, **options
    )
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(my_delta, their_delta, rtol=1e-6, atol=1e-9)


def test_noise_tunnel_over_idgi_is_complete_for_smoothgrad_and_refuses_bad_settings(tiny_cnn64, images64):
    tunnel = ours.NoiseTunnel(ours.IDGI(tiny_cnn64))
    torch.manual_seed(0)
    attribution, delta = tunnel.attribute(
        images64, nt_samples=3, stdevs=0.1, target=1, n_steps=8, return_convergence_delta=True
    )
    assert attribution.shape == images64.shape and delta.shape == (6,) and float(delta.abs().max()) < 1e-12
    with pytest.raises(ValueError, match="nt_type must be one of"):
        tunnel.attribute(images64, nt_type="smooth", target=1)
    with pytest.raises(ValueError, match="stdevs must be a finite number ≥ 0"):
        tunnel.attribute(images64, stdevs=-1.0, target=1)
    with pytest.raises(ValueError, match="nt_samples must be an int ≥ 1"):
        tunnel.attribute(images64, nt_samples=0, target=1)
    with pytest.raises(TypeError, match="attribution_method must be an attribution object"):
        ours.NoiseTunnel(tiny_cnn64)


@pytest.mark.parametrize("multiply", [True, False])
@pytest.mark.parametrize("stdevs", [0.0, (0.1, 0.02)])
def test_gradient_shap_matches_captum_given_the_same_seeds(multiply, stdevs, two_inputs):
    """numpy's seed fixes the baseline rows and α, torch's the input noise, as in Captum."""
    model, image, features = two_inputs
    generator = torch.Generator().manual_seed(3)
    distribution = (
        torch.rand(6, 3, 9, 11, generator=generator, dtype=torch.float64),
        torch.randn(6, 5, generator=generator, dtype=torch.float64),
    )
    options = dict(n_samples=7, stdevs=stdevs, target=torch.tensor([1, 0, 3]), return_convergence_delta=True)
    results = []
    for implementation in (captum_attr.GradientShap, ours.GradientShap):
        np.random.seed(5)
        torch.manual_seed(5)
        results.append(
            implementation(model, multiply_by_inputs=multiply).attribute(
                (image, features), distribution, **options
            )
        )
    (theirs, their_delta), (mine, my_delta) = results
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)
    if multiply:  # Captum's delta compares the sum with F(x + ε) − F(b) only for the multiplied form
        torch.testing.assert_close(my_delta, their_delta, rtol=1e-6, atol=1e-9)
    np.random.seed(6)
    other = ours.GradientShap(model, multiply_by_inputs=multiply).attribute(
        (image, features), distribution, **options
    )[0]
    assert not torch.allclose(other[0], mine[0])


def test_gradient_shap_refuses_bad_settings(tiny_cnn64, images64):
    shap = ours.GradientShap(tiny_cnn64)
    with pytest.raises(ValueError, match="baselines must be a distribution"):
        shap.attribute(images64, torch.zeros(2, 3, 5, 5, dtype=torch.float64), target=0)
    with pytest.raises(ValueError, match="n_samples must be an int ≥ 1"):
        shap.attribute(images64, images64 * 0, n_samples=0, target=0)
    with pytest.raises(ValueError, match="stdevs must be a finite number ≥ 0"):
        shap.attribute(images64, images64 * 0, stdevs=float("nan"), target=0)
    overflowing = ours.GradientShap(lambda x: tiny_cnn64(x) * torch.tensor(float("inf"), dtype=x.dtype))
    with pytest.raises(ValueError, match="NaN or Inf at path point j = 0"):
        overflowing.attribute(images64, images64 * 0, target=0)


def test_a_one_point_gauss_legendre_rule_matches_captum(two_inputs):
    """n_steps=1 is a path of one point (the engine's steps = 0)."""
    model, image, features = two_inputs
    theirs = captum_attr.IntegratedGradients(model).attribute((image, features), target=2, n_steps=1)
    mine = ours.IntegratedGradients(model).attribute((image, features), target=2, n_steps=1)
    for a, b in zip(mine, theirs):
        close(a, b)
