"""CUDA graphs over the chunk loop (docs/backends.md §13).

On the CPU the fixed-shape form the graphs replay runs eagerly (engine graphs mode "static"):
every chunk padded to `batch_size` points with weightless repeats, static buffers refilled per
chunk, state cached across calls. Its results must equal the chunk-by-chunk stream's. The
captured form itself runs where CUDA is present.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from conftest import TinyCNN

import idgi_fast
from idgi_fast import engine
from idgi_fast.methods import method_spec
from idgi_fast.runtime import graphs
from idgi_fast.utils import messages

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def run_engine(
    model, x, targets, method, mode, backend="torch", steps=8, counts=None, batch_size=7, **params
):
    spec = method_spec(method)
    return engine.run(
        model,
        x,
        torch.zeros_like(x),
        targets,
        spec=spec,
        steps=steps,
        counts=counts or [steps],
        idgi=True,
        output="probability",
        batch_size=batch_size,
        params=spec.resolve_params(params),
        backend=backend,
        graphs=mode,
    )


def assert_same(got, want):
    base, important, outputs, evaluations = got
    base_w, important_w, outputs_w, evaluations_w = want
    assert evaluations == evaluations_w
    assert torch.equal(outputs.isnan(), outputs_w.isnan())
    torch.testing.assert_close(outputs, outputs_w, rtol=1e-13, atol=1e-15, equal_nan=True)
    assert base.keys() == base_w.keys()
    for n in base:
        torch.testing.assert_close(base[n], base_w[n], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(important[n], important_w[n], rtol=1e-12, atol=1e-14)


# a fixed-shape (padded) chunk against the chunk-by-chunk stream in float64: the model runs at
# another batch size, so results agree to float64 rounding, far inside docs/semantics.md §7's
# float32 tolerance, and never bit for bit unless the code makes them (it does not)
FLOAT64_ROUNDING = dict(rtol=1e-12, atol=1e-15)


def assert_same_scores(got, want):
    """score_targets' (probabilities, predicted classes) of a padded and an unpadded run."""
    torch.testing.assert_close(got[0], want[0], **FLOAT64_ROUNDING)
    assert torch.equal(got[1], want[1])  # argmax: equal where no two logits tie within rounding


@pytest.fixture(autouse=True)
def empty_cache():
    graphs.clear_graphs()
    yield
    graphs.clear_graphs()


@pytest.mark.parametrize(
    "method,counts,params",
    [
        ("ig", [2, 4, 8], {"rule": "trapezoid"}),
        ("ig", [8], {"rule": "pair"}),
        ("blur_ig", [4, 8], {"max_sigma": 6.0, "padding": "reflect"}),
        ("guided_ig", None, {}),
    ],
)
def test_padded_fixed_shape_chunks_equal_the_chunk_by_chunk_stream(method, counts, params):
    # 3 images × 9 points = 27 rows in chunks of 7: the last chunk holds 6 real rows and 1 pad
    model = TinyCNN().double().eval()
    x = torch.rand(3, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 3, 4])
    want = run_engine(model, x, targets, method, "off", counts=counts, **params)
    got = run_engine(model, x, targets, method, "static", counts=counts, **params)
    assert_same(got, want)


def test_a_cached_static_stream_takes_the_next_calls_data_and_leaves_the_callers_alone():
    model = TinyCNN().double().eval()
    first = torch.rand(2, 3, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    second = torch.rand(2, 3, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kept = first.clone()
    run_engine(model, first, torch.tensor([1, 2]), "blur_ig", "static", counts=[4, 8], max_sigma=5.0)
    held = run_engine(model, first, torch.tensor([1, 2]), "ig", "static")
    got = run_engine(model, second, torch.tensor([4, 0]), "ig", "static")  # same shapes: a cache hit
    assert len(graphs.CACHE.entries) == 2
    assert torch.equal(first, kept)
    assert_same(got, run_engine(model, second, torch.tensor([4, 0]), "ig", "off"))
    # the first call's results were copies, not the reused accumulators
    assert_same(held, run_engine(model, first, torch.tensor([1, 2]), "ig", "off"))


def test_the_cache_recaptures_when_the_model_changes_shape_or_parameters():
    model = TinyCNN().double().eval()
    x = torch.rand(2, 3, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    targets = torch.tensor([0, 1])
    run_engine(model, x, targets, "ig", "static")
    model.head = torch.nn.Linear(8, 5).double()  # a replaced layer: the old buffers' model is stale
    got = run_engine(model, x, targets, "ig", "static")
    assert len(graphs.CACHE.entries) == 2
    assert_same(got, run_engine(model, x, targets, "ig", "off"))


def test_triton_blur_points_from_the_paths_device_taps_equal_per_chunk_host_built_ones():
    from idgi_fast.engine.paths import BlurPath
    from idgi_fast.ops.blur_path import blur_path_triton

    x = torch.rand(2, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    options = dict(max_sigma=20.0, grad_step=0.01, sqrt=False, padding="reflect", backend="triton")
    path = BlurPath(x, 4, True, **options)
    images, js = torch.tensor([0, 1, 1, 0]), torch.tensor([4, 3, 1, 0])  # σ = 0 (identity) … 20
    want = blur_path_triton(x[images], path.sigmas[4 - js], 0.01, "reflect")
    got = path.points(images, js)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_the_static_triton_blur_stream_equals_the_chunked_one():
    model = TinyCNN(channels=1).double().eval()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    targets = torch.tensor([2, 3])
    want = run_engine(model, x, targets, "blur_ig", "off", backend="triton", steps=4, max_sigma=20.0)
    got = run_engine(model, x, targets, "blur_ig", "static", backend="triton", steps=4, max_sigma=20.0)
    assert_same(got, want)


def test_graphs_argument_is_checked():
    model = TinyCNN().eval()
    x = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="graphs=True captures CUDA graphs and needs CUDA tensors"):
        idgi_fast.explain(model, x, target=0, steps=4, graphs=True)
    with pytest.raises(TypeError, match="graphs must be True, False or None"):
        idgi_fast.explain(model, x, target=0, steps=4, graphs="yes")
    off = idgi_fast.explain(model, x, target=0, steps=4, graphs=False)
    auto = idgi_fast.explain(model, x, target=0, steps=4)
    assert torch.equal(off.idgi, auto.idgi)


class FakeGraph:
    """Stands in for a captured CUDA graph on the CPU: a replay runs the body again and writes
    its results into the outputs of the capture, as a real replay rewrites that memory."""

    def __init__(self, body, outputs, counts):
        self.body, self.outputs, self.counts = body, outputs, counts

    def replay(self):
        self.counts["replays"] += 1
        found = self.body()
        if self.outputs is not None:
            for kept, new in zip(self.outputs, found):
                kept.copy_(new)


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's stream, sync-debug and capture calls faked, so that StaticCall's capture path
    (warm-ups, the sync check, the reset, replays, the fallback) runs on the CPU; the capture
    itself (StaticCall._record) records the body instead of the kernels."""
    counts = {"mode": 0, "captures": 0, "replays": 0}

    class FakeStream:
        def wait_stream(self, other):
            pass

    def record(call):
        counts["captures"] += 1
        outputs = call.body()
        return FakeGraph(call.body, outputs, counts), outputs

    monkeypatch.setattr(torch.cuda, "Stream", FakeStream)
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda: FakeStream())
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: counts["mode"])
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", lambda mode: counts.__setitem__("mode", mode))
    monkeypatch.setattr(graphs.StaticCall, "_record", record)
    monkeypatch.setattr(messages, "_warned", set())
    return counts


# Blur IG's points are capturable with the Triton blur only (its taps on the device)
@pytest.mark.parametrize("method,backend", [("ig", "torch"), ("blur_ig", "triton"), ("guided_ig", "torch")])
def test_the_capture_path_warms_up_resets_and_replays_to_the_uncaptured_result(fake_cuda, method, backend):
    model = TinyCNN().double().eval()
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(13))
    targets = torch.tensor([0, 3, 4])
    params = {"max_sigma": 2.0} if method == "blur_ig" else {}  # few taps: the interpreter is slow
    want = run_engine(model, x, targets, method, "off", backend=backend, steps=8, **params)
    first = run_engine(model, x, targets, method, "capture", backend=backend, steps=8, **params)
    replays = fake_cuda["replays"]
    second = run_engine(model, x, targets, method, "capture", backend=backend, steps=8, **params)
    assert fake_cuda["captures"] == 1 and fake_cuda["mode"] == 0  # captured once; the debug mode restored
    # every chunk (IG, Blur IG: 27 rows in chunks of 7) or step (Guided IG: 8) was a replay, both calls
    assert fake_cuda["replays"] == 2 * replays == 2 * (4 if method != "guided_ig" else 8)
    assert_same(first, want)
    assert_same(second, want)


def test_a_model_that_syncs_with_the_host_falls_back_with_one_warning(fake_cuda):
    class Syncing(TinyCNN):
        def forward(self, x):
            if fake_cuda["mode"] == "error":  # what torch raises for .item() under the sync check
                raise RuntimeError("called a synchronizing CUDA operation")
            return super().forward(x)

    model = Syncing().double().eval()
    x = torch.rand(2, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(14))
    targets = torch.tensor([1, 2])
    with pytest.warns(UserWarning, match="could not be captured as a CUDA graph \\(called a synchronizing"):
        got = run_engine(model, x, targets, "ig", "capture")
    assert fake_cuda["captures"] == 0 and fake_cuda["replays"] == 0 and fake_cuda["mode"] == 0
    assert_same(got, run_engine(model, x, targets, "ig", "off"))


def test_the_metrics_capture_path_scores_as_the_chunked_one(fake_cuda):
    from idgi_fast.metrics.common import score_targets

    model = TinyCNN().double().eval()
    images = torch.rand(11, 3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(15))
    targets = torch.randint(0, 5, (11,), generator=torch.Generator().manual_seed(16))
    top_two = model(images).detach().topk(2, dim=1).values
    assert float((top_two[:, 0] - top_two[:, 1]).min()) > 1e-6  # argmax cannot flip with rounding
    want = score_targets(model, images, targets, 4)
    got = score_targets(model, images, targets, 4, graphs="capture")  # chunks of 4, 4 and 3 (padded)
    assert fake_cuda["captures"] == 1 and fake_cuda["replays"] == 3
    # the padded chunk runs the model at batch 4, the unpadded one at 3: which conv/BLAS kernel the
    # CPU picks for each may round differently, so float64 rounding (far inside §7), not bits
    assert_same_scores(got, want)


@cuda
@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
def test_captured_graphs_equal_the_uncaptured_path_on_cuda(method):
    model = TinyCNN().cuda().eval()
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(5)).cuda()
    options = dict(target=[0, 1, 2], method=method, steps=8, batch_size=7)
    want = idgi_fast.explain(model, x, graphs=False, **options)
    got = idgi_fast.explain(model, x, graphs=True, **options)
    again = idgi_fast.explain(model, x, graphs=True, **options)  # a replay of the cached graph
    assert any(state.call.captured for _, state in graphs.CACHE.entries.values())
    for result in (got, again):
        torch.testing.assert_close(result.base, want.base, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(result.idgi, want.idgi, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(result.outputs, want.outputs, rtol=1e-6, atol=1e-8, equal_nan=True)


@cuda
def test_a_model_with_a_host_sync_falls_back_with_one_warning():
    class Syncing(TinyCNN):
        def forward(self, x):
            logits = super().forward(x)
            return logits * (1.0 if float(logits.abs().max()) >= 0 else 0.0)

    model = Syncing().cuda().eval()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(6)).cuda()
    want = idgi_fast.explain(model, x, target=[0, 1], steps=8, graphs=False)
    with pytest.warns(UserWarning, match="could not be captured as a CUDA graph"):
        got = idgi_fast.explain(model, x, target=[0, 1], steps=8, graphs=True)
    torch.testing.assert_close(got.idgi, want.idgi, rtol=1e-5, atol=1e-7)


def test_precision_is_checked_and_fp32_is_the_default_path():
    model = TinyCNN().eval()
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(7))
    with pytest.raises(ValueError, match="precision must be one of"):
        idgi_fast.explain(model, x, target=0, steps=4, precision="fp16")
    default = idgi_fast.explain(model, x, target=[0, 1], steps=4)
    exact = idgi_fast.explain(model, x, target=[0, 1], steps=4, precision="fp32")
    assert torch.equal(default.idgi, exact.idgi) and exact.precision == "fp32"
    # on the CPU there is no TF32: the same numbers
    tf32 = idgi_fast.explain(model, x, target=[0, 1], steps=4, precision="tf32")
    assert torch.equal(tf32.idgi, exact.idgi)


def test_bf16_runs_the_model_under_autocast_and_leaves_it_untouched():
    model = TinyCNN().eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(8))
    exact = idgi_fast.explain(model, x, target=[0, 1], steps=8)
    fast = idgi_fast.explain(model, x, target=[0, 1], steps=8, precision="bf16")
    assert fast.idgi.dtype == torch.float32 and fast.outputs.dtype == torch.float32
    error = float((fast.idgi - exact.idgi).norm() / exact.idgi.norm())
    assert 0 < error < 0.1  # bf16 moves it (its 8-bit mantissa), but not beyond recognition
    # IDGI's completeness holds for the model it evaluated: F under autocast at both ends
    assert float(fast.completeness_gap(idgi=True).max()) < 1e-5
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert next(model.parameters()).dtype == torch.float32


def test_a_bound_forward_finds_its_cached_state_again():
    model = TinyCNN().double().eval()
    x = torch.rand(2, 3, 10, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    for _ in range(2):
        got = run_engine(model.forward, x, torch.tensor([0, 1]), "ig", "static")
    assert len(graphs.CACHE.entries) == 1
    assert_same(got, run_engine(model, x, torch.tensor([0, 1]), "ig", "off"))


def test_the_metrics_fixed_shape_scoring_equals_the_chunked_one():
    from idgi_fast.metrics import EvaluationOptions
    from idgi_fast.metrics.insertion import insertion_deletion_batched
    from idgi_fast.metrics.pic import pic_curves

    model = TinyCNN().double().eval()
    images = torch.rand(3, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(10))
    saliency = torch.rand(3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    targets = torch.tensor([0, 2, 4])
    # 5 images per call: the 3 × 6 insertion images leave a padded last chunk
    found = {
        mode: insertion_deletion_batched(
            model, images, saliency, targets, levels=5, batch_size=5, graphs=mode
        )
        for mode in ("off", "static")
    }
    for name in ("insertion", "deletion"):  # padded vs unpadded last chunk: float64 rounding, not bits
        torch.testing.assert_close(
            found["static"].curves[name], found["off"].curves[name], **FLOAT64_ROUNDING
        )
    curves = {
        mode: pic_curves(
            model,
            images,
            saliency,
            targets,
            EvaluationOptions(
                pic_levels=6,
                information=("msssim",),
                msssim_win_size=3,
                msssim_scales=2,
                min_pred=0.0,
                batch_size=4,
            ),
            backend="torch",
            graphs=mode,
        )
        for mode in ("off", "static")
    }
    for key in curves["off"].curves:
        torch.testing.assert_close(
            curves["static"].auc[key], curves["off"].auc[key], equal_nan=True, **FLOAT64_ROUNDING
        )


def test_a_fixed_chunk_that_does_not_fit_falls_back_to_the_halving_stream():
    from conftest import RunsOutOfMemory

    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(12))
    model = RunsOutOfMemory(limit=5).eval()
    got = run_engine(model, x, torch.tensor([1, 1, 1]), "ig", "static", batch_size=16, steps=6)
    assert graphs.CACHE.entries == {}  # the failed state is not kept
    want = run_engine(TinyCNN().eval(), x, torch.tensor([1, 1, 1]), "ig", "off", batch_size=4, steps=6)
    torch.testing.assert_close(got[1][6], want[1][6], rtol=1e-5, atol=1e-7)
