"""The streaming engine: agreement with the reference on odd shapes, chunking, memory that does
not grow with the step count, out-of-memory retries, and backend selection."""

from __future__ import annotations

import pytest
import torch
from conftest import RunsOutOfMemory, TinyCNN, peak_bytes

import idgi_fast
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.methods import METHODS
from idgi_fast.models.toy import load_scenenet

FAST = ["torch", "triton"]


def assert_within_contract(got: torch.Tensor, want: torch.Tensor):
    """docs/semantics.md §7 for float32: max |a − r| ≤ 1e-5·max|r| + 1e-7."""
    assert torch.isfinite(got).all()
    limit = 1e-5 * float(want.abs().max()) + 1e-7
    assert float((got - want).abs().max()) <= limit


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("rule", ["pair", "left", "right", "trapezoid"])
def test_ig_matches_the_reference_on_an_odd_shape(backend, rule):
    model = TinyCNN().eval()
    x = torch.rand(1, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    options = dict(target=2, method="ig", steps=8, compute_at=[2, 4], rule=rule, baselines=0.25)
    want = idgi_fast.explain(model, x, backend="reference", **options)
    got = idgi_fast.explain(model, x, backend=backend, batch_size=3, **options)
    for n in (2, 4, 8):
        assert_within_contract(got.base[n], want.base[n])
        assert_within_contract(got.idgi[n], want.idgi[n])
    assert torch.equal(got.outputs.isnan(), want.outputs.isnan())
    assert got.evaluations == want.evaluations == 9


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("padding,sqrt", [("zeros", False), ("reflect", True)])
def test_blur_ig_matches_the_reference(backend, padding, sqrt):
    model = TinyCNN(channels=1).eval()
    x = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    options = dict(
        target=[0, 1, 2, 3, 4],
        method="blur_ig",
        steps=4,
        compute_at=[2],
        padding=padding,
        sqrt=sqrt,
        max_sigma=20.0,
    )  # radius 80 > 16: the padding folds many times
    want = idgi_fast.explain(model, x, backend="reference", **options)
    got = idgi_fast.explain(model, x, backend=backend, batch_size=7, **options)
    for n in (2, 4):
        assert_within_contract(got.base[n], want.base[n])
        assert_within_contract(got.idgi[n], want.idgi[n])
    no_idgi = idgi_fast.explain(model, x, backend=backend, idgi=False, **options)
    assert no_idgi.evaluations == 4 and torch.isnan(no_idgi.outputs[:, 0]).all()
    assert_within_contract(no_idgi.base[4], want.base[4])


def test_guided_ig_float32_is_within_contract_of_the_float64_reference_on_the_embedded_model():
    scenes = generate_scenes(2, seed=1)
    want = idgi_fast.explain(
        load_scenenet(dtype=torch.float64),
        scenes.images.double(),
        scenes.labels,
        "guided_ig",
        steps=8,
        backend="reference",
    )
    got = idgi_fast.explain(
        load_scenenet(), scenes.images, scenes.labels, "guided_ig", steps=8, backend="torch"
    )
    for mine, theirs in ((got.base, want.base), (got.idgi, want.idgi)):
        error = float((mine.double() - theirs).norm() / theirs.norm())
        assert error <= 1e-3


@pytest.mark.parametrize("backend", FAST)
def test_chunking_does_not_change_results(backend):
    model = TinyCNN().double().eval()
    # two images: 14 points, in chunks of 1, of 4 (the last one short) and all at once
    x = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    runs = [
        idgi_fast.explain(
            model,
            x,
            method="blur_ig",
            steps=6,
            compute_at=[3],
            max_sigma=3.0,
            backend=backend,
            batch_size=size,
        )
        for size in (1, 4, None)
    ]
    for run in runs[1:]:
        for n in (3, 6):
            torch.testing.assert_close(run.base[n], runs[0].base[n], rtol=1e-12, atol=1e-15)
            torch.testing.assert_close(run.idgi[n], runs[0].idgi[n], rtol=1e-12, atol=1e-15)
    again = idgi_fast.explain(
        model, x, method="blur_ig", steps=6, compute_at=[3], max_sigma=3.0, backend=backend, batch_size=4
    )
    assert torch.equal(again.base[6], runs[1].base[6]) and torch.equal(again.idgi[3], runs[1].idgi[3])


# the reference keeps every gradient: against IG's reference the bound is a real property of the engine
@pytest.mark.parametrize("method,against_reference", [("ig", True), ("blur_ig", False), ("guided_ig", False)])
def test_peak_memory_does_not_grow_with_steps(method, against_reference):
    model = TinyCNN().eval()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    params = {"max_sigma": 4.0} if "max_sigma" in METHODS[method].defaults else {}

    def run(steps):
        return lambda: idgi_fast.explain(
            model, x, target=0, method=method, steps=steps, backend="torch", batch_size=8, **params
        )

    small, large = peak_bytes(run(8)), peak_bytes(run(128))
    assert large <= 1.10 * small, (small, large)
    if against_reference:
        reference = peak_bytes(
            lambda: idgi_fast.explain(model, x, target=0, steps=128, backend="reference", batch_size=8)
        )
        assert reference > 3 * large


def test_out_of_memory_halves_the_chunk_and_keeps_what_was_accumulated():
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(4))
    model = RunsOutOfMemory(limit=5).eval()
    got = idgi_fast.explain(model, x, target=1, steps=6, backend="torch", batch_size=16)
    assert max(model.sizes[model.sizes.index(4) :]) <= 5  # 16 → 8 → 4, then it stays there
    want = idgi_fast.explain(TinyCNN().eval(), x, target=1, steps=6, backend="reference")
    assert_within_contract(got.base, want.base)
    assert_within_contract(got.idgi, want.idgi)


def test_auto_picks_torch_on_the_cpu_and_triton_needs_cuda_or_the_interpreter(monkeypatch):
    model = TinyCNN().eval()
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(
        idgi_fast.explain(model, x, 0, steps=4).base,
        idgi_fast.explain(model, x, 0, steps=4, backend="torch").base,
        rtol=0,
        atol=0,
    )
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    with pytest.raises(ValueError, match="backend='triton' needs CUDA tensors"):
        idgi_fast.explain(model, x, 0, steps=4, backend="triton")


def test_every_registered_method_has_a_reference_and_an_engine_implementation():
    from idgi_fast import engine, reference

    assert set(reference.IMPLEMENTATIONS) == set(METHODS)
    assert set(engine.IMPLEMENTATIONS) == set(METHODS)


@pytest.mark.parametrize("backend", ["reference", "torch"])
def test_the_registry_says_which_endpoints_are_evaluated_without_idgi(backend):

    model = TinyCNN().double().eval()
    x = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for name, spec in METHODS.items():
        for idgi in (False, True):
            outputs = idgi_fast.explain(
                model, x, target=1, method=name, steps=4, idgi=idgi, backend=backend
            ).outputs
            assert bool(outputs[:, 0].isnan().all()) == (spec.baseline_needs_idgi and not idgi), (name, idgi)
            assert bool(outputs[:, -1].isnan().all()) == (spec.input_needs_idgi and not idgi), (name, idgi)
            assert not outputs[:, 1:-1].isnan().any()


class CallSizes(torch.nn.Module):
    """Wraps a model and records how many points each call sends through it."""

    def __init__(self, model):
        super().__init__()
        self.model, self.sizes = model, []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        return self.model(x)


@pytest.mark.parametrize("backend", ["reference", "torch"])
def test_batch_size_bounds_every_model_call_of_every_method(backend):
    """batch_size means path points per model call for every method, Guided IG included."""

    x = torch.rand(5, 3, 6, 7, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    for name in METHODS:
        model = CallSizes(TinyCNN().double().eval())
        idgi_fast.explain(model, x, target=2, method=name, steps=3, batch_size=2, backend=backend)
        assert model.sizes and max(model.sizes) <= 2, (name, model.sizes)


def test_the_captum_drop_in_streams_internal_batch_size_points_per_call():
    from idgi_fast.captum import IDGI, IntegratedGradients

    x = torch.rand(3, 3, 6, 7, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for explainer in (IntegratedGradients, IDGI):
        model = CallSizes(TinyCNN().double().eval())
        explainer(model).attribute(x, target=1, n_steps=8, internal_batch_size=4)
        assert max(model.sizes) <= 4 and sum(model.sizes) >= 3 * 8, (explainer.__name__, model.sizes)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_a_point_is_finite_exactly_when_its_value_and_every_gradient_entry_are(dtype):
    """The finiteness of a gradient row is read from its sum: NaN, +Inf, −Inf and +Inf beside −Inf
    are caught, and finite rows whose sum leaves the dtype's range (16-bit) are still finite."""
    from idgi_fast.outputs import point_finite

    gradients = torch.full((6, 150_528), 1.0, dtype=dtype)  # Σ = 150 528 > float16's largest
    gradients[1, 7], gradients[2, 0], gradients[3, -1] = float("nan"), float("inf"), -float("inf")
    gradients[4, 5], gradients[4, 6] = float("inf"), -float("inf")
    values = torch.zeros(6, dtype=dtype)
    assert point_finite(values, gradients).tolist() == [True, False, False, False, False, True]
    values[5] = float("nan")
    assert point_finite(values, gradients).tolist() == [True, False, False, False, False, False]
    assert point_finite(values).tolist() == [True] * 5 + [False]
