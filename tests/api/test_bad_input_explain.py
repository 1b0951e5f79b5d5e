"""Bad input to explain, ExplainResult and the Captum-shaped classes: each case gets an exception of
the named type whose message names the argument and the fix; models in training mode are refused
and left bit-identical."""

from __future__ import annotations

import pytest
import torch
from bad_input_cases import (
    ATTRIBUTION,
    MODEL,
    LogOfMean,
    X,
    detached,
    empty_batch,
    integer_logits,
    nan_logits,
    on_meta,
    tuple_output,
    with_batchnorm,
    with_nan,
)
from conftest import TinyCNN
from torch import nn

from idgi_fast import IG, BlurIG, GuidedIG, evaluate, explain, saliency_map
from idgi_fast.captum import IDGI
from idgi_fast.captum import IntegratedGradients as CaptumIG
from idgi_fast.outputs import NonFiniteOutput

EXPLAIN = [
    # model
    (
        "model not callable",
        lambda: explain("resnet", X),
        TypeError,
        r"model must be an nn.Module or a callable",
    ),
    (
        "model in train mode",
        lambda: explain(with_batchnorm(), X),
        ValueError,
        r"training mode: layer '1' \(BatchNorm2d\).*model.eval\(\)",
    ),
    (
        "model on another device",
        lambda: explain(on_meta(), X),
        ValueError,
        r"model is on meta but the inputs are on cpu.*model.to\(inputs.device\)",
    ),
    (
        "model of another dtype",
        lambda: explain(MODEL, X.double()),
        TypeError,
        r"parameters are torch.float32; use model.double\(\)",
    ),
    (
        "detached output",
        lambda: explain(detached, X, target=0, steps=2),
        ValueError,
        r"does not depend on its input through autograd.*Remove the .detach\(\)",
    ),
    (
        "integer logits",
        lambda: explain(integer_logits, X, target=0, steps=2),
        TypeError,
        r"floating-point logits; it returned torch.int64",
    ),
    (
        "tuple output",
        lambda: explain(tuple_output, X, target=0),
        TypeError,
        r"model must return a logits tensor.*returned tuple",
    ),
    (
        "one score per input",
        lambda: explain(lambda v: v.sum(dim=(1, 2, 3)), X, target=0),
        ValueError,
        r"logits of shape \(B, K\)",
    ),
    (
        "NaN in F, fast",
        lambda: explain(LogOfMean(), X, steps=4),
        NonFiniteOutput,
        r"NaN or Inf at path point j = 0 of m = 4 for input 0 \(target \d\); 2 such",
    ),
    (
        "NaN in F, reference",
        lambda: explain(LogOfMean(), X, steps=4, backend="reference"),
        NonFiniteOutput,
        r"path point j = 0 of m = 4 for input 0",
    ),
    (
        "NaN in F, Guided IG",
        lambda: explain(LogOfMean(), X, steps=4, method="guided_ig"),
        NonFiniteOutput,
        r"path point j = 0 of m = 4",
    ),
    (
        "NaN logits, target None",
        lambda: explain(nan_logits, X),
        NonFiniteOutput,
        r"logits are NaN or Inf for input 0",
    ),
    # inputs
    (
        "inputs not a tensor",
        lambda: explain(MODEL, [[0.0, 1.0]]),
        TypeError,
        r"inputs must be a torch.Tensor",
    ),
    (
        "inputs half",
        lambda: explain(MODEL, X.half()),
        TypeError,
        r"inputs must be float32 or float64.*\.float\(\)",
    ),
    (
        "inputs uint8",
        lambda: explain(MODEL, (X * 255).to(torch.uint8)),
        TypeError,
        r"inputs must be float32 or float64",
    ),
    ("inputs without batch axis", lambda: explain(MODEL, torch.rand(5)), ValueError, r"batch axis first"),
    ("inputs empty", lambda: explain(MODEL, empty_batch()), ValueError, r"empty batch"),
    ("inputs NaN", lambda: explain(MODEL, with_nan()), ValueError, r"inputs contains 1 NaN or Inf"),
    (
        "Blur IG on (B, H, W)",
        lambda: explain(MODEL, torch.rand(2, 8, 8), method="blur_ig"),
        ValueError,
        r"image batch \(B, C, H, W\) for Blur IG",
    ),
    # target
    (
        "target too large",
        lambda: explain(MODEL, X, target=5, steps=2),
        ValueError,
        r"target must lie in \[0, 5\)",
    ),
    (
        "target negative",
        lambda: explain(MODEL, X, target=[-1, 0]),
        ValueError,
        r"target must lie in \[0, K\)",
    ),
    (
        "target 2**63",
        lambda: explain(MODEL, X, target=2**63),
        ValueError,
        r"target must lie in \[0, K\).*9223372036854775808",
    ),
    (
        "target list 2**64",
        lambda: explain(MODEL, X, target=[0, 2**64]),
        ValueError,
        r"target must lie in \[0, K\)",
    ),
    (
        "target float tensor",
        lambda: explain(MODEL, X, target=torch.tensor([0.0, 1.0])),
        TypeError,
        r"target must hold integers",
    ),
    (
        "target 2-D",
        lambda: explain(MODEL, X, target=torch.zeros(2, 1, dtype=torch.long)),
        ValueError,
        r"target must be 1-D",
    ),
    ("target bool", lambda: explain(MODEL, X, target=True), TypeError, r"got a bool"),
    ("target string", lambda: explain(MODEL, X, target="cat"), TypeError, r"target must be an int"),
    (
        "target count",
        lambda: explain(MODEL, X, target=[0, 1, 2]),
        ValueError,
        r"target has 3 entries but inputs has batch size 2",
    ),
    # method and its parameters
    ("method unknown", lambda: explain(MODEL, X, method="smoothgrad"), ValueError, r"method must be one of"),
    (
        "parameter of another method",
        lambda: explain(MODEL, X, max_sigma=3.0),
        TypeError,
        r"ig got unknown parameter\(s\) \['max_sigma'\]; its parameters are: rule",
    ),
    ("rule", lambda: explain(MODEL, X, rule="simpson"), ValueError, r"rule must be one of"),
    (
        "max_sigma NaN",
        lambda: explain(MODEL, X, method="blur_ig", max_sigma=float("nan")),
        ValueError,
        r"max_sigma must be a finite number > 0",
    ),
    (
        "max_sigma inf",
        lambda: explain(MODEL, X, method="blur_ig", max_sigma=float("inf")),
        ValueError,
        r"max_sigma must be a finite number > 0",
    ),
    (
        "grad_step string",
        lambda: explain(MODEL, X, method="blur_ig", grad_step="0.1"),
        ValueError,
        r"grad_step must be a finite number > 0",
    ),
    (
        "sqrt int",
        lambda: explain(MODEL, X, method="blur_ig", sqrt=1),
        TypeError,
        r"sqrt must be True or False",
    ),
    (
        "padding",
        lambda: explain(MODEL, X, method="blur_ig", padding="wrap"),
        ValueError,
        r"padding must be one of",
    ),
    (
        "fraction",
        lambda: explain(MODEL, X, method="guided_ig", fraction=0),
        ValueError,
        r"fraction must be in \(0, 1\]",
    ),
    (
        "max_dist",
        lambda: explain(MODEL, X, method="guided_ig", max_dist=2.0),
        ValueError,
        r"max_dist must be in \[0, 1\]",
    ),
    # the rest of explain's arguments
    ("steps 0", lambda: explain(MODEL, X, steps=0), ValueError, r"steps must be an int ≥ 1"),
    ("steps float", lambda: explain(MODEL, X, steps=2.5), ValueError, r"steps must be an int ≥ 1"),
    ("steps bool", lambda: explain(MODEL, X, steps=True), ValueError, r"steps must be an int ≥ 1"),
    ("idgi 'no'", lambda: explain(MODEL, X, idgi="no"), TypeError, r"idgi must be True or False, got 'no'"),
    ("idgi 0", lambda: explain(MODEL, X, idgi=0), TypeError, r"idgi must be True or False"),
    (
        "baselines batch",
        lambda: explain(MODEL, X, baselines=torch.zeros(3, 3, 8, 8)),
        ValueError,
        r"baselines has batch size 3 but inputs has 2",
    ),
    (
        "baselines shape",
        lambda: explain(MODEL, X, baselines=torch.zeros(1, 3, 7, 8)),
        ValueError,
        r"cannot be broadcast",
    ),
    (
        "baselines NaN",
        lambda: explain(MODEL, X, baselines=float("nan")),
        ValueError,
        r"baselines contains .* NaN or Inf",
    ),
    (
        "baselines string",
        lambda: explain(MODEL, X, baselines="black"),
        TypeError,
        r"baselines must be None, a number or a torch.Tensor",
    ),
    (
        "baselines for Blur IG",
        lambda: explain(MODEL, X, method="blur_ig", baselines=0.0),
        ValueError,
        r"blur_ig has no baselines argument",
    ),
    ("output", lambda: explain(MODEL, X, output="log_softmax"), ValueError, r"output must be one of"),
    (
        "batch_size 0",
        lambda: explain(MODEL, X, batch_size=0),
        ValueError,
        r"batch_size must be None or an int ≥ 1",
    ),
    (
        "batch_size string",
        lambda: explain(MODEL, X, batch_size="8"),
        ValueError,
        r"batch_size must be None or an int ≥ 1",
    ),
    (
        "compute_at not dividing",
        lambda: explain(MODEL, X, steps=8, compute_at=[2, 3]),
        ValueError,
        r"compute_at counts \[3\] do not divide steps=8; valid counts are \[1, 2, 4, 8\]",
    ),
    (
        "compute_at strings",
        lambda: explain(MODEL, X, steps=8, compute_at=["2"]),
        TypeError,
        r"compute_at must be a list of ints",
    ),
    (
        "compute_at for Guided IG",
        lambda: explain(MODEL, X, method="guided_ig", steps=8, compute_at=[2]),
        ValueError,
        r"compute_at is not available for guided_ig",
    ),
    (
        "backend",
        lambda: explain(MODEL, X, backend="cuda"),
        ValueError,
        r"backend must be one of \('auto', 'torch', 'triton', 'native', 'reference'\)",
    ),
]

CLASSES = [
    (
        "class model in train mode",
        lambda: IG(with_batchnorm()).attribute(X),
        ValueError,
        r"training mode.*model.eval\(\)",
    ),
    (
        "class model not callable",
        lambda: IG(3),
        TypeError,
        r"model must be an nn.Module or a callable",
    ),
    (
        "class idgi 'yes'",
        lambda: GuidedIG(MODEL).attribute(X, idgi="yes"),
        TypeError,
        r"idgi must be True or False",
    ),
    ("class output", lambda: BlurIG(MODEL, output="prob").attribute(X), ValueError, r"output must be one of"),
    (
        "class backend",
        lambda: BlurIG(MODEL, backend="gpu").attribute(X),
        ValueError,
        r"backend must be one of",
    ),
    (
        "class parameter",
        lambda: BlurIG(MODEL).attribute(X, fraction=0.5),
        TypeError,
        r"blur_ig got unknown parameter",
    ),
    (
        "class Blur IG (B, H, W)",
        lambda: BlurIG(lambda v: v.flatten(1)).attribute(torch.rand(2, 8, 8)),
        ValueError,
        r"image batch",
    ),
    (
        "result without IDGI",
        lambda: explain(MODEL, X, steps=2, idgi=False).attribution(idgi=True),
        ValueError,
        r"no IDGI attribution; call explain\(..., idgi=True\)",
    ),
    (
        "result other steps",
        lambda: explain(MODEL, X, steps=2).attribution(steps=4),
        ValueError,
        r"holds steps=2 only; use compute_at",
    ),
    (
        "result count not computed",
        lambda: explain(MODEL, X, steps=4, compute_at=[2]).attribution(steps=1),
        ValueError,
        r"no result for steps=1; this result holds step counts \[2, 4\]",
    ),
    (
        "saliency_map shape",
        lambda: saliency_map(torch.rand(2, 8, 8)),
        ValueError,
        r"attribution must be a \(B, C, H, W\) tensor",
    ),
    (
        "saliency_map reduce",
        lambda: saliency_map(ATTRIBUTION, reduce="max"),
        ValueError,
        r"reduce must be one of",
    ),
]


TABLE = EXPLAIN + CLASSES


@pytest.mark.parametrize(
    "call, error, message", [case[1:] for case in TABLE], ids=[case[0] for case in TABLE]
)
def test_bad_input_is_refused_with_the_argument_and_the_fix(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: buffer.clone() for name, buffer in model.named_buffers()}


PUBLIC_CALLS = {
    "explain ig": lambda m: explain(m, X, steps=2),
    "explain blur_ig": lambda m: explain(m, X, method="blur_ig", steps=2),
    "explain guided_ig": lambda m: explain(m, X, method="guided_ig", steps=2),
    "explain reference": lambda m: explain(m, X, steps=2, backend="reference"),
    "IG": lambda m: IG(m).attribute(X, steps=2),
    "evaluate": lambda m: evaluate(m, X, ATTRIBUTION, metrics=["insertion", "deletion"], insertion_levels=2),
    "Captum IG": lambda m: CaptumIG(m).attribute(X, target=0, n_steps=2),
    "Captum IDGI": lambda m: IDGI(m).attribute(X, target=0, n_steps=2),
}


@pytest.mark.parametrize("call", list(PUBLIC_CALLS.values()), ids=list(PUBLIC_CALLS))
def test_a_train_mode_batchnorm_model_is_refused_and_left_bit_identical(call):
    model = with_batchnorm()
    before = _buffers(model)
    with pytest.raises(ValueError, match=r"training mode.*model.eval\(\)"):
        call(model)
    after = _buffers(model)
    assert model.training and all(torch.equal(before[name], after[name]) for name in before)
    model.eval()  # the fix the message names: then the call runs and still changes no buffer
    call(model)
    assert all(torch.equal(before[name], value) for name, value in _buffers(model).items())


def test_only_layers_that_compute_differently_in_training_mode_are_refused():
    """A model left in training mode whose layers behave the same in both modes (no BatchNorm,
    Dropout, RReLU, tracking InstanceNorm) is explained as is."""
    plain = TinyCNN()
    assert plain.training
    explain(plain, X, steps=2)
    frozen = with_batchnorm().train()
    frozen[1].eval()
    frozen[3].eval()  # BatchNorm and Dropout in eval mode inside a container in training mode
    explain(frozen, X, steps=2)


def test_inputs_requiring_grad_do_not_leak_into_results():
    result = explain(
        MODEL, X.clone().requires_grad_(True), steps=2, baselines=torch.zeros_like(X).requires_grad_(True)
    )
    assert not result.base.requires_grad and not result.idgi.requires_grad
