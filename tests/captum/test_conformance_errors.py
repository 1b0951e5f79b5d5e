"""Bad arguments beside Captum's: wherever Captum refuses a call, ours refuses it too, with an
exception that the `except` clause written for Captum's catches (Captum asserts; ours raises
CaptumArgumentError, a ValueError and an AssertionError) and a message naming the argument. And,
as Captum's hook-removal tests check, a call — refused or not — leaves no hook on the model and
the user's model and inputs as they were."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conformance import GridOutput, OneInput, TwoInputs, examples

from idgi_fast import captum as ours

captum_attr = pytest.importorskip("captum.attr")


def _ig(implementation, model, *inputs, **options):
    return lambda: implementation.IntegratedGradients(model).attribute(
        inputs if len(inputs) > 1 else inputs[0], **options
    )


def _tunnel(implementation, model, x, **options):
    method = implementation.IntegratedGradients(model)
    return lambda: implementation.NoiseTunnel(method).attribute(x, **options)


def _shap(implementation, model, x, baselines, **options):
    return lambda: implementation.GradientShap(model).attribute(x, baselines, **options)


def _delta(implementation, model, x, attributions, **options):
    return lambda: implementation.IntegratedGradients(model).compute_convergence_delta(
        attributions, 0.0, x, **options
    )


# (name, the argument the message must name, the call given captum.attr or idgi_fast.captum)
REFUSED = [
    ("no target, several outputs", "target", lambda m, x, f: _ig(m, OneInput(), x)),
    ("target longer than the output", "target", lambda m, x, f: _ig(m, OneInput(), x, target=(1, 0))),
    ("target naming a row of outputs", "target", lambda m, x, f: _ig(m, GridOutput(), x, target=1)),
    ("tuple target, too short", "target", lambda m, x, f: _ig(m, GridOutput(), x, target=(0,))),
    ("hook-removal target", "target", lambda m, x, f: _ig(m, OneInput(), x, target=(9999,) * 20)),
    ("list target of the wrong length", "target", lambda m, x, f: _ig(m, OneInput(), x, target=[0, 1])),
    ("two baselines, one input", "baselines", lambda m, x, f: _ig(m, OneInput(), x, baselines=(0, 1))),
    ("baseline of the wrong shape", "baseline", lambda m, x, f: _ig(m, OneInput(), x, target=0, baselines=f)),
    ("unknown rule", "method", lambda m, x, f: _ig(m, OneInput(), x, target=0, method="simpson")),
    ("unknown noise type", "nt_type", lambda m, x, f: _tunnel(m, OneInput(), x, target=0, nt_type="smooth")),
    ("baselines as an array", "baselines", lambda m, x, f: _shap(m, OneInput(), x, lambda: np.zeros((2, 6)))),
    ("attributions of 2 of 3", "attributions", lambda m, x, f: _delta(m, OneInput(), x, x[:2], target=0)),
]  # fmt: skip


@pytest.mark.parametrize("name,argument,call", REFUSED, ids=[case[0] for case in REFUSED])
def test_what_captum_refuses_ours_refuses_catchably_and_clearly(name, argument, call):
    x, f = examples(torch.float32)
    with pytest.raises(Exception) as captum_refusal:
        call(captum_attr, x, f)()
    with pytest.raises(captum_refusal.type) as our_refusal:  # the handler written for Captum catches ours
        call(ours, x, f)()
    assert isinstance(our_refusal.value, ValueError)  # and the one written for this package
    assert argument in str(our_refusal.value)


HOOKED_CALLS = [
    ("IntegratedGradients", lambda m, model, x: m.IntegratedGradients(model).attribute(x, target=0)),
    ("NoiseTunnel", lambda m, model, x: m.NoiseTunnel(m.IntegratedGradients(model)).attribute(x, target=1)),
    ("GradientShap", lambda m, model, x: m.GradientShap(model).attribute(x, x * 0.5, target=2)),
    ("Saliency", lambda m, model, x: m.NoiseTunnel(captum_attr.Saliency(model)).attribute(x, target=1)),
]  # fmt: skip


@pytest.mark.parametrize("refused", [False, True])
@pytest.mark.parametrize("name,call", HOOKED_CALLS, ids=[case[0] for case in HOOKED_CALLS])
def test_no_hook_is_left_and_the_model_and_inputs_are_as_they_were(name, call, refused):
    model = TwoInputs()
    wrapped = lambda x, f=None: model(x, torch.ones(x.shape[0], 4))  # noqa: E731 - one input
    x, _ = examples(torch.float32)
    x.requires_grad_(True)
    before = (x.detach().clone(), {k: v.clone() for k, v in model.state_dict().items()})
    model.train()
    if refused:
        model.register_forward_hook(lambda *_: (_ for _ in ()).throw(AssertionError("refused")))
        with pytest.raises(AssertionError, match="refused"):
            call(ours, wrapped, x)
        model._forward_hooks.clear()
    else:
        call(ours, wrapped, x)
    for module in model.modules():
        assert not (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks)
    assert torch.equal(x.detach(), before[0]) and x.requires_grad and x.grad is None
    assert model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(v, before[1][k]) for k, v in model.state_dict().items())
