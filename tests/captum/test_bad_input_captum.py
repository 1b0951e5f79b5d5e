"""Bad input to the Captum drop-in (IntegratedGradients, IDGI): each case gets an exception of the
named type whose message names the argument and the fix."""

from __future__ import annotations

import pytest
import torch
from bad_input_cases import (
    MODEL,
    LogOfMean,
    X,
    detached,
    empty_batch,
    integer_logits,
    on_meta,
    tuple_output,
    with_batchnorm,
    with_nan,
)

from idgi_fast.captum import IDGI
from idgi_fast.captum import IntegratedGradients as CaptumIG
from idgi_fast.outputs import NonFiniteOutput

CAPTUM = [
    ("drop-in forward_func", lambda: CaptumIG(3), TypeError, r"forward_func must be callable"),
    (
        "drop-in multiply_by_inputs",
        lambda: CaptumIG(MODEL, multiply_by_inputs="no"),
        TypeError,
        r"multiply_by_inputs must be True or False",
    ),
    (
        "drop-in train mode",
        lambda: CaptumIG(with_batchnorm()).attribute(X, target=0),
        ValueError,
        r"forward_func is in training mode.*model.eval\(\)",
    ),
    (
        "drop-in bound method in train mode",
        lambda: CaptumIG(with_batchnorm().forward).attribute(X, target=0),
        ValueError,
        r"forward_func is in training mode",
    ),
    (
        "drop-in model on another device",
        lambda: CaptumIG(on_meta()).attribute(X, target=0),
        ValueError,
        r"forward_func is on meta",
    ),
    (
        "drop-in inputs list",
        lambda: CaptumIG(MODEL).attribute([X], target=0),
        TypeError,
        r"inputs must be a tensor or a non-empty tuple of tensors",
    ),
    (
        "drop-in inputs integer",
        lambda: CaptumIG(MODEL).attribute(X.long(), target=0),
        TypeError,
        r"inputs must share one floating dtype",
    ),
    (
        "drop-in inputs empty",
        lambda: CaptumIG(MODEL).attribute(empty_batch(), target=0),
        ValueError,
        r"inputs is an empty batch",
    ),
    (
        "drop-in inputs NaN",
        lambda: CaptumIG(MODEL).attribute(with_nan(), target=0),
        ValueError,
        r"inputs contains 1 NaN or Inf",
    ),
    (
        "drop-in baselines count",
        lambda: CaptumIG(MODEL).attribute(X, baselines=(X, X), target=0),
        ValueError,
        r"baselines has 2 entries for 1 inputs",
    ),
    (
        "drop-in baselines shape",
        lambda: CaptumIG(MODEL).attribute(X, baselines=torch.zeros(3, 8), target=0),
        ValueError,
        r"does not broadcast",
    ),
    (
        "drop-in baselines string",
        lambda: CaptumIG(MODEL).attribute(X, baselines="zero", target=0),
        TypeError,
        r"each baseline must be a number or a tensor",
    ),
    (
        "drop-in target out of range",
        lambda: CaptumIG(MODEL).attribute(X, target=7),
        ValueError,
        r"target 7 is out of range for the forward function's output of shape \(B, 5\)",
    ),
    (
        "drop-in target 2**63",
        lambda: CaptumIG(MODEL).attribute(X, target=[0, 2**63]),
        ValueError,
        r"out of range",
    ),
    (
        "drop-in target per example count",
        lambda: CaptumIG(MODEL).attribute(X, target=[0, 1, 2]),
        ValueError,
        r"one int/tuple per example \(2\)",
    ),
    (
        "drop-in target float tensor",
        lambda: CaptumIG(MODEL).attribute(X, target=torch.tensor([0.5, 1.0])),
        TypeError,
        r"target must hold integers",
    ),
    (
        "drop-in target None, many outputs",
        lambda: CaptumIG(MODEL).attribute(X),
        ValueError,
        r"target=None needs one output per example",
    ),
    (
        "drop-in tuple output",
        lambda: CaptumIG(tuple_output).attribute(X, target=0),
        TypeError,
        r"forward_func must return a tensor .*returned tuple",
    ),
    (
        "drop-in integer output",
        lambda: CaptumIG(integer_logits).attribute(X, target=0),
        TypeError,
        r"floating-point scores",
    ),
    (
        "drop-in detached output",
        lambda: CaptumIG(detached).attribute(X, target=0),
        ValueError,
        r"forward_func's output does not depend on its input",
    ),
    (
        "drop-in NaN output",
        lambda: CaptumIG(LogOfMean()).attribute(X, target=0, n_steps=4, method="riemann_left"),
        NonFiniteOutput,
        r"NaN or Inf at path point j = 0 .* for input 0",
    ),
    (
        "drop-in n_steps",
        lambda: CaptumIG(MODEL).attribute(X, target=0, n_steps=0),
        ValueError,
        r"n_steps must be an int ≥ 1",
    ),
    (
        "drop-in Riemann with one step",
        lambda: CaptumIG(MODEL).attribute(X, target=0, n_steps=1, method="riemann_left"),
        ValueError,
        r"riemann_left needs n_steps ≥ 2",
    ),
    (
        "drop-in method",
        lambda: CaptumIG(MODEL).attribute(X, target=0, method="simpson"),
        ValueError,
        r"method must be one of",
    ),
    (
        "drop-in internal_batch_size 0",
        lambda: CaptumIG(MODEL).attribute(X, target=0, internal_batch_size=0),
        ValueError,
        r"internal_batch_size must be None or an int ≥ 1",
    ),
    (
        "drop-in internal_batch_size string",
        lambda: CaptumIG(MODEL).attribute(X, target=0, internal_batch_size="4"),
        ValueError,
        r"internal_batch_size must be None or an int ≥ 1",
    ),
    (
        "drop-in return_convergence_delta",
        lambda: CaptumIG(MODEL).attribute(X, target=0, return_convergence_delta="yes"),
        TypeError,
        r"return_convergence_delta must be True or False",
    ),
    (
        "IDGI drop-in NaN output",
        lambda: IDGI(LogOfMean()).attribute(X, target=0, n_steps=4),
        NonFiniteOutput,
        r"path point j = 0 of m = 4",
    ),
    (
        "IDGI drop-in train mode",
        lambda: IDGI(with_batchnorm()).attribute(X, target=0),
        ValueError,
        r"training mode",
    ),
    (
        "IDGI drop-in n_steps",
        lambda: IDGI(MODEL).attribute(X, target=0, n_steps=-1),
        ValueError,
        r"n_steps must be an int ≥ 1",
    ),
    (
        "IDGI drop-in empty",
        lambda: IDGI(MODEL).attribute(empty_batch(), target=0),
        ValueError,
        r"empty batch",
    ),
]

TABLE = CAPTUM


@pytest.mark.parametrize(
    "call, error, message", [case[1:] for case in TABLE], ids=[case[0] for case in TABLE]
)
def test_bad_input_is_refused_with_the_argument_and_the_fix(call, error, message):
    with pytest.raises(error, match=message):
        call()
