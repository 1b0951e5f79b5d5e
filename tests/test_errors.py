"""Every documented input error is raised, with a message that names the argument."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyCNN

from idgi_fast import BlurIG, explain


@pytest.fixture
def model():
    return TinyCNN().eval()


@pytest.fixture
def x():
    return torch.rand(2, 3, 8, 8)


def test_wrong_rank(model):
    with pytest.raises(ValueError, match=r"inputs must have a batch axis first"):
        explain(model, torch.rand(5))


def test_wrong_dtype(model, x):
    with pytest.raises(TypeError, match=r"inputs must be float32 or float64.*\.float\(\)"):
        explain(model, x.half())
    with pytest.raises(TypeError, match=r"inputs must be float32 or float64"):
        explain(model, (x * 255).to(torch.uint8))


def test_not_a_tensor(model):
    with pytest.raises(TypeError, match=r"inputs must be a torch.Tensor"):
        explain(model, [[0.0, 1.0]])


def test_empty_batch(model):
    with pytest.raises(ValueError, match=r"empty batch"):
        explain(model, torch.rand(0, 3, 8, 8))


def test_nan_and_inf_inputs(model, x):
    for bad in (float("nan"), float("inf")):
        y = x.clone()
        y[1, 0, 2, 2] = bad
        with pytest.raises(ValueError, match=r"inputs contains 1 NaN or Inf"):
            explain(model, y)
    with pytest.raises(ValueError, match=r"baselines contains .* NaN or Inf"):
        explain(model, x, baselines=float("nan"))


def test_batch_mismatch(model, x):
    with pytest.raises(ValueError, match=r"baselines has batch size 3 but inputs has 2"):
        explain(model, x, baselines=torch.zeros(3, 3, 8, 8))
    with pytest.raises(ValueError, match=r"cannot be broadcast"):
        explain(model, x, baselines=torch.zeros(1, 3, 7, 8))
    with pytest.raises(ValueError, match=r"target has 3 entries but inputs has batch size 2"):
        explain(model, x, target=[0, 1, 2])


def test_target_out_of_range(model, x):
    with pytest.raises(ValueError, match=r"target must lie in \[0, 5\)"):
        explain(model, x, target=5, steps=2)
    with pytest.raises(ValueError, match=r"target must lie in \[0, K\)"):
        explain(model, x, target=[-1, 0], steps=2)
    with pytest.raises(TypeError, match=r"target must hold integers"):
        explain(model, x, target=torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("steps", [0, -3, 2.5, True])
def test_bad_steps(model, x, steps):
    with pytest.raises(ValueError, match=r"steps must be an int ≥ 1"):
        explain(model, x, steps=steps)


def test_compute_at_must_divide_steps(model, x):
    with pytest.raises(
        ValueError, match=r"compute_at counts \[3\] do not divide steps=8; valid counts are \[1, 2, 4, 8\]"
    ):
        explain(model, x, steps=8, compute_at=[2, 3])
    with pytest.raises(ValueError, match=r"compute_at is not available for guided_ig"):
        explain(model, x, method="guided_ig", steps=8, compute_at=[2])


def test_blur_ig_needs_image_batch():
    flat_model = lambda v: torch.stack([v.sum(dim=(1, 2)), -v.sum(dim=(1, 2))], dim=1)  # noqa: E731
    with pytest.raises(ValueError, match=r"image batch \(B, C, H, W\) for Blur IG"):
        explain(flat_model, torch.rand(2, 8, 8), method="blur_ig")
    with pytest.raises(ValueError, match=r"image batch"):
        BlurIG(flat_model).attribute(torch.rand(2, 8, 8))


def test_model_must_return_batch_by_classes(x):
    with pytest.raises(ValueError, match=r"model must return logits of shape \(B, K\) = \(2, K\)"):
        explain(
            lambda v: v.sum(dim=(1, 2, 3)), x, target=0, backend="reference"
        )  # one point per image per call
    with pytest.raises(
        ValueError, match=r"model must return logits of shape \(B, K\) = \(32, K\) for 32 inputs"
    ):
        explain(lambda v: v.sum(dim=(1, 2, 3)), x, target=0, backend="torch")  # 32 points per call on the CPU
    with pytest.raises(ValueError, match=r"model must return logits of shape"):
        explain(lambda v: v.flatten(1)[:1], x, target=0)
    with pytest.raises(TypeError, match=r"model must return a logits tensor"):
        explain(lambda v: (v.flatten(1),), x, target=0)
    with pytest.raises(TypeError, match=r"model must be an nn.Module or a callable"):
        explain("resnet", x)


def test_unknown_names(model, x):
    with pytest.raises(ValueError, match=r"method must be one of"):
        explain(model, x, method="smoothgrad")
    with pytest.raises(
        TypeError, match=r"ig got unknown parameter\(s\) \['max_sigma'\]; its parameters are: rule"
    ):
        explain(model, x, max_sigma=3.0)
    with pytest.raises(ValueError, match=r"rule must be one of"):
        explain(model, x, rule="simpson")
    with pytest.raises(ValueError, match=r"padding must be one of"):
        explain(model, x, method="blur_ig", padding="wrap")
    with pytest.raises(
        ValueError, match=r"backend must be one of \('auto', 'torch', 'triton', 'reference'\)"
    ):
        explain(model, x, backend="cuda")
    with pytest.raises(ValueError, match=r"output must be one of"):
        explain(model, x, output="log_softmax")
    with pytest.raises(ValueError, match=r"batch_size must be None or an int ≥ 1"):
        explain(model, x, batch_size=0)
    with pytest.raises(ValueError, match=r"blur_ig has no baselines argument"):
        explain(model, x, method="blur_ig", baselines=0.0)
    with pytest.raises(ValueError, match=r"max_dist must be in \[0, 1\]"):
        explain(model, x, method="guided_ig", max_dist=2.0)


def test_model_and_inputs_dtype_mismatch(model, x):
    with pytest.raises(
        TypeError,
        match=r"inputs are torch.float64 but the model's parameters are torch.float32; use model.double\(\)",
    ):
        explain(model, x.double())


def test_inputs_requiring_grad_do_not_leak_into_results(model, x):
    result = explain(
        model, x.requires_grad_(True), steps=2, baselines=torch.zeros_like(x).requires_grad_(True)
    )
    assert not result.base.requires_grad and not result.idgi.requires_grad


def test_method_parameters_are_checked_by_the_registry():
    model = TinyCNN().double().eval()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    with pytest.raises(TypeError, match="sqrt must be True or False"):
        explain(model, x, target=0, method="blur_ig", steps=2, sqrt=1)
    with pytest.raises(ValueError, match="grad_step must be > 0"):
        explain(model, x, target=0, method="blur_ig", steps=2, grad_step="0.1")
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        explain(model, x, target=0, method="guided_ig", steps=2, fraction=0)
