"""Every backend against analytic answers and the invariants of docs/semantics.md §1–§5.

Each test runs once per backend: the reference, the vectorised torch path, the Triton
kernels (in Triton's interpreter on the CPU) and the native CPU ops where they are built.
"""

from __future__ import annotations

import sys
from functools import partial

import pytest
import torch
from conftest import LinearLogit, Quadratic, SinSum, TinyCNN

import idgi_fast
from idgi_fast.geometry import gaussian_blur
from idgi_fast.methods import METHODS, method_spec
from idgi_fast.ops.native import native_error
from idgi_fast.outputs import output_only

RULES = ("pair", "left", "right", "trapezoid")
explain = idgi_fast.explain  # replaced per backend by the fixture below


@pytest.fixture(
    autouse=True, params=["reference", "torch", "triton"] + (["native"] if native_error() is None else [])
)
def backend(request, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "explain", partial(idgi_fast.explain, backend=request.param))
    return request.param


def api_methods(backend: str) -> tuple[str, ...]:
    """The methods a property of the API layer (dtype agreement, determinism, the Captum-shaped
    classes) is checked on. Under Triton's interpreter Blur IG's two blur kernels cost about 0.1 s
    per (path point, channel) plane, so on "triton" these properties, which do not depend on which
    kernel runs, leave Blur IG to the other backends: tests/ops/test_blur_path.py checks the
    kernels against the torch op in both dtypes, Blur IG runs end to end on Triton in the
    completeness test below, and tests/engine/test_engine.py runs it on Triton against the
    reference (both paddings) and across chunk sizes with compute_at."""
    return ("ig", "guided_ig") if backend == "triton" else ("ig", "blur_ig", "guided_ig")


def close(a, b, rtol=1e-10, atol=1e-12):
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol)


def close_across_batches(method: str, a, b):
    """One method's results computed in other batch shapes (float64): to rounding for IG and Blur
    IG; for a `batch_sensitive` method (Guided IG, docs/semantics.md §8: it ranks every gradient,
    so the model's last-bit differences between batch shapes can reorder near-tied features) to
    §7's Guided IG tolerance, relative L2 ≤ 1e-3 (ATEN_CPU_CAPABILITY=default moves one image of
    test_guided_ig_images_are_independent by 2e-6, where this CPU's own kernels move none)."""
    if not method_spec(method).batch_sensitive:
        close(a, b)
        return
    error = float((a - b).norm() / b.norm())
    assert error <= 1e-3, error


def endpoint_outputs(model, inputs, baselines, targets, output="probability"):
    return output_only(model, inputs, targets, output), output_only(model, baselines, targets, output)


# --- analytic cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES)
def test_ig_of_linear_model_is_weight_times_difference(rule):
    weight = torch.tensor([[0.5, -1.0, 2.0], [0.25, 3.0, -0.75]], dtype=torch.float64)
    model = LinearLogit(weight)
    x = torch.tensor([[[1.0, 2.0, -1.0], [0.5, 0.0, 4.0]]], dtype=torch.float64)
    baseline = torch.full_like(x, 0.2)
    result = explain(model, x, target=0, steps=7, baselines=baseline, output="logit", rule=rule)
    close(result.base, weight * (x - baseline))


@pytest.mark.parametrize("rule", RULES)
def test_idgi_of_linear_model(rule):
    weight = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.5], dtype=torch.float64)
    model = LinearLogit(weight)
    x = torch.tensor([[1.0, 2.0, -1.0, 3.0, 0.5], [0.0, -2.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    result = explain(model, x, target=[0, 1], steps=5, output="logit", rule=rule)
    f_x = model(x)[torch.arange(2), result.targets]
    f_0 = model(torch.zeros_like(x))[torch.arange(2), result.targets]
    expected = weight * weight * ((f_x - f_0) / (weight * weight).sum()).unsqueeze(1)
    close(result.idgi, expected)


def test_quadratic_ig_and_idgi():
    x = torch.tensor([[3.0, 3.0]], dtype=torch.float64)
    for rule in ("pair", "trapezoid"):  # both exact for a gradient linear along the path
        result = explain(Quadratic(), x, target=0, steps=16, output="logit", rule=rule)
        close(result.base, torch.tensor([[54.0, 27.0]], dtype=torch.float64))
    # g(p) ∝ (2, 1) on the whole path, so IDGI splits each ΔF 4 : 1, except the first step,
    # whose gradient at the baseline (0, 0) is zero and which therefore contributes nothing.
    result = explain(Quadratic(), x, target=0, steps=16, output="logit")
    first_step = float(result.outputs[0, 1] - result.outputs[0, 0])
    close(result.idgi, torch.tensor([[4.0, 1.0]], dtype=torch.float64) * (81.0 - first_step) / 5)


def test_unbounded_guided_ig_of_quadratic(backend):
    if backend == "triton":
        pytest.skip(
            "288 steps of kernel launches take minutes in Triton's interpreter; "
            "tests/ops/test_guided_step.py checks the selection kernel against kthvalue, and the small "
            "Guided IG cases here run it"
        )
    x = torch.tensor([[3.0, 3.0]], dtype=torch.float64)
    attributions = [
        explain(Quadratic(), x, target=0, method="guided_ig", steps=steps, output="logit", max_dist=1.0).base
        for steps in (32, 256)
    ]
    expected = torch.tensor([[72.0, 9.0]], dtype=torch.float64)
    errors = [float((a - expected).abs().max()) for a in attributions]
    # left-endpoint sums converge at first order: 8× the steps, about 8× smaller error
    assert errors[1] < 0.5 and errors[1] < errors[0] / 6, errors


@pytest.mark.parametrize("model_name", ["quadratic", "cnn"])
def test_guided_ig_without_freedom_is_left_rule_ig(model_name, tiny_cnn64, images64):
    model, x = (
        (Quadratic(), torch.tensor([[3.0, 1.0], [-1.0, 2.0]], dtype=torch.float64))
        if model_name == "quadratic"
        else (tiny_cnn64, images64)
    )
    output = "logit" if model_name == "quadratic" else "probability"
    baseline = torch.full_like(x, 0.1)
    guided = explain(
        model, x, target=0, method="guided_ig", steps=9, max_dist=0.0, baselines=baseline, output=output
    )
    left = explain(model, x, target=0, steps=9, rule="left", baselines=baseline, output=output)
    close(guided.base, left.base, rtol=1e-9, atol=1e-12)
    close(guided.idgi, left.idgi, rtol=1e-9, atol=1e-12)


def test_blur_ig_of_elementwise_model_converges_to_blur_difference(backend):
    if backend == "triton":
        pytest.skip(
            "592 points at radius 200 take hours in Triton's interpreter; tests/ops/test_blur_path.py "
            "checks the blur kernel against the torch op, which this test covers"
        )
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(1, 2, 9, 12, generator=generator, dtype=torch.float64) * 3
    expected = torch.sin(x) - torch.sin(gaussian_blur(x, 50.0))
    errors = []
    for steps in (16, 64, 512):
        attribution = explain(
            SinSum(), x, target=0, method="blur_ig", steps=steps, output="logit", idgi=False
        ).base
        errors.append(float((attribution - expected).norm() / expected.norm()))
    assert errors[2] < 0.02 and errors[2] < errors[1] < errors[0], errors


# --- completeness and invariants ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
def test_idgi_sums_to_output_difference(method, tiny_cnn64, images64):
    # Blur IG at max_sigma 8 (radius 32, beyond the 64² images' half width) keeps the interpreter's
    # taps few; completeness does not depend on σ
    params = {"max_sigma": 8.0} if method == "blur_ig" else {}
    result = explain(tiny_cnn64, images64, method=method, steps=12, **params)
    if not METHODS[method].takes_baselines:  # Blur IG: the input blurred at max_sigma
        baseline = gaussian_blur(images64, result.params["max_sigma"])
    else:
        baseline = torch.zeros_like(images64)
    f_input, f_baseline = endpoint_outputs(tiny_cnn64, images64, baseline, result.targets)
    close(result.outputs[:, -1], f_input)
    close(result.outputs[:, 0], f_baseline)
    close(result.idgi.flatten(1).sum(dim=1), f_input - f_baseline, rtol=1e-10, atol=1e-14)
    assert result.evaluations == {"ig": 13, "blur_ig": 13, "guided_ig": 13}[method]


def test_blur_ig_without_idgi_skips_the_baseline_evaluation(tiny_cnn64, images64, backend):
    if "blur_ig" not in api_methods(backend):
        pytest.skip("the evaluation count is the engine's, not the kernel's: see api_methods")
    result = explain(tiny_cnn64, images64, method="blur_ig", steps=6, idgi=False)
    assert result.evaluations == 6 and result.idgi is None
    assert torch.isnan(result.outputs[:, 0]).all() and torch.isfinite(result.outputs[:, 1:]).all()


# max_sigma = 6 (radius 24) still folds the 11×13 images twice, at a cost Triton's interpreter can afford
@pytest.mark.parametrize(
    "method,params",
    [("ig", {"rule": "trapezoid"}), ("blur_ig", {"padding": "reflect", "max_sigma": 6.0}), ("guided_ig", {})],
)
def test_results_do_not_depend_on_batch_size(method, params, tiny_cnn64, backend):
    if method not in api_methods(backend):
        pytest.skip("Blur IG's chunking on Triton: tests/engine/test_engine.py (see api_methods)")
    # two images: 14 points in one chunk against 14 chunks of one (each a launch under the interpreter)
    x = torch.rand(2, 3, 10, 10, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    whole = explain(tiny_cnn64, x, method=method, steps=6, **params)
    single = explain(tiny_cnn64, x, method=method, steps=6, batch_size=1, **params)
    close_across_batches(method, whole.base, single.base)
    close_across_batches(method, whole.idgi, single.idgi)
    if not method_spec(method).batch_sensitive:  # Guided IG's points themselves may move
        close(whole.outputs, single.outputs, rtol=1e-12, atol=1e-15)


def test_guided_ig_images_are_independent(tiny_cnn64):
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    together = explain(tiny_cnn64, x, target=[0, 1, 2], method="guided_ig", steps=5)
    for b in range(3):
        alone = explain(tiny_cnn64, x[b : b + 1], target=b, method="guided_ig", steps=5)
        close_across_batches("guided_ig", together.base[b : b + 1], alone.base)
        close_across_batches("guided_ig", together.idgi[b : b + 1], alone.idgi)


@pytest.mark.parametrize(
    "method,params",
    [("ig", {"rule": r}) for r in RULES]
    + [
        ("blur_ig", {"sqrt": False, "max_sigma": 6.0}),
        ("blur_ig", {"sqrt": True, "padding": "reflect", "max_sigma": 6.0}),
    ],
)
def test_compute_at_equals_direct_runs(method, params, tiny_cnn64, images64, backend):
    if method not in api_methods(backend):
        pytest.skip("Blur IG's compute_at on Triton: tests/engine/test_engine.py (see api_methods)")
    swept = explain(tiny_cnn64, images64, method=method, steps=8, compute_at=[1, 2, 4], **params)
    assert sorted(swept.base) == [1, 2, 4, 8]
    for n in (1, 2, 4, 8):
        direct = explain(tiny_cnn64, images64, method=method, steps=n, **params)
        close(swept.base[n], direct.base)
        close(swept.idgi[n], direct.idgi)
        close(swept.attribution(idgi=True, steps=n), direct.idgi)


def test_zero_gradient_steps_give_no_nan():
    class Dead(torch.nn.Module):  # F = relu(Σx − 20): zero gradient on most of the path
        def forward(self, x):
            return torch.relu(x.flatten(1).sum(1, keepdim=True) - 20.0)

    x = torch.full((2, 1, 4, 6), 1.0, dtype=torch.float64)
    for method in ("ig", "blur_ig", "guided_ig"):
        result = explain(Dead(), x, target=0, method=method, steps=8, output="logit")
        assert torch.isfinite(result.base).all() and torch.isfinite(result.idgi).all(), method
    flat = explain(
        Dead(), torch.zeros(1, 1, 3, 3, dtype=torch.float64) + 0.5, target=0, steps=4, output="logit"
    )
    assert (flat.idgi == 0).all() and (flat.base == 0).all()


def test_float32_agrees_with_float64(images64, backend):
    model64 = TinyCNN().double().eval()
    model32 = TinyCNN().float().eval()
    for method in api_methods(backend):
        r64 = explain(model64, images64, method=method, steps=8)
        r32 = explain(model32, images64.float(), method=method, steps=8)
        assert r32.base.dtype == torch.float32
        for a, b in ((r32.base, r64.base), (r32.idgi, r64.idgi)):
            error = float((a.double() - b).norm() / b.norm())
            assert error < 1e-4, (method, error)


def test_runs_are_deterministic(tiny_cnn64, images64, backend):
    for method in api_methods(backend):
        a = explain(tiny_cnn64, images64, method=method, steps=5)
        b = explain(tiny_cnn64, images64, method=method, steps=5)
        assert torch.equal(a.base, b.base) and torch.equal(a.idgi, b.idgi)


def test_targets_forms_agree_and_default_is_argmax(tiny_cnn64, images64):
    argmax = tiny_cnn64(images64).argmax(1)
    default = explain(tiny_cnn64, images64, steps=3)
    assert torch.equal(default.targets, argmax)
    as_list = explain(tiny_cnn64, images64, target=argmax.tolist(), steps=3)
    as_tensor = explain(tiny_cnn64, images64, target=argmax, steps=3)
    close(default.base, as_list.base)
    close(default.base, as_tensor.base)
    as_int = explain(tiny_cnn64, images64, target=4, steps=3)
    assert as_int.targets.tolist() == [4, 4]


def test_model_mode_and_parameter_grads_are_untouched(images64):
    model = TinyCNN().double().train()
    for method in ("ig", "blur_ig", "guided_ig"):
        explain(model, images64, method=method, steps=3)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_scalar_and_broadcast_baselines(tiny_cnn64, images64):
    scalar = explain(tiny_cnn64, images64, baselines=0.5, steps=4)
    tensor = explain(
        tiny_cnn64, images64, baselines=torch.full((1, 3, 1, 1), 0.5, dtype=torch.float64), steps=4
    )
    close(scalar.base, tensor.base)


def test_any_input_shape_for_ig_and_guided_ig():
    weight = torch.arange(1.0, 25.0, dtype=torch.float64).view(2, 3, 4) / 10
    model = LinearLogit(weight)
    x = torch.rand(2, 2, 3, 4, dtype=torch.float64)
    for method in ("ig", "guided_ig"):
        result = explain(model, x, target=0, method=method, steps=4, output="logit")
        assert result.base.shape == x.shape


def test_captum_shaped_classes_match_explain(tiny_cnn64, images64, backend):
    classes = {"ig": idgi_fast.IG, "blur_ig": idgi_fast.BlurIG, "guided_ig": idgi_fast.GuidedIG}
    for cls, method in ((classes[method], method) for method in api_methods(backend)):
        explainer = cls(tiny_cnn64)
        for use_idgi in (False, True):
            got = explainer.attribute(images64, target=1, steps=4, idgi=use_idgi)
            want = explain(tiny_cnn64, images64, target=1, method=method, steps=4, idgi=True)
            close(got, want.idgi if use_idgi else want.base)


def test_saliency_map_reductions():
    a = torch.tensor([[[[1.0, -2.0]], [[-3.0, 1.0]]]])  # (1, 2, 1, 2)
    assert idgi_fast.saliency_map(a).tolist() == [[[-2.0, -1.0]]]
    assert idgi_fast.saliency_map(a, "abs_sum").tolist() == [[[2.0, 1.0]]]
    assert idgi_fast.saliency_map(a, "sum_abs").tolist() == [[[4.0, 3.0]]]
    with pytest.raises(ValueError, match="reduce must be one of"):
        idgi_fast.saliency_map(a, "max")
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        idgi_fast.saliency_map(a[0])


def test_tf32_is_off_and_cudnn_deterministic_while_explaining_and_restored_after(images64):
    seen = []

    def flags():
        return (
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.deterministic,
        )

    class Spy(TinyCNN):
        def forward(self, x):
            seen.append(flags())
            return super().forward(x)

    saved = flags()
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.deterministic = False
    try:
        explain(Spy().double(), images64, steps=2)
        assert seen and all(during == (False, False, True) for during in seen)
        assert flags() == (True, True, False)
    finally:
        (
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.deterministic,
        ) = saved
