"""evaluate(precision=…): every scoring pass runs under the chosen precision's flags and autocast,
on every backend, while the targets come from exact float32 and the caller's flags come back."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyCNN

from idgi_fast import evaluate
from idgi_fast.metrics.stability import quantised

IMAGES = quantised(torch.rand(3, 3, 12, 12, generator=torch.Generator().manual_seed(3)))
SALIENCY = torch.rand(3, 12, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
METRICS = dict(metrics=["insertion", "deletion", "sic", "aic", "road"], information=["entropy"], min_pred=0.0)


class Probe(torch.nn.Module):
    """TinyCNN that records, per call, whether autocast was on and whether TF32 matmuls were
    allowed: what a scoring pass ran under, observable on the CPU."""

    def __init__(self):
        super().__init__()
        self.inner = TinyCNN().eval()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.seen.append((torch.is_autocast_enabled("cpu"), torch.backends.cuda.matmul.allow_tf32))
        return self.inner(x)


@pytest.mark.parametrize("backend", ["reference", "torch"])
@pytest.mark.parametrize(
    "precision, autocast, tf32", [("fp32", False, False), ("tf32", False, True), ("bf16", True, True)]
)
def test_every_scoring_pass_runs_under_the_precision(backend, precision, autocast, tf32):
    model = Probe().eval()
    before = torch.backends.cuda.matmul.allow_tf32
    found = evaluate(model, IMAGES, SALIENCY, backend=backend, precision=precision, **METRICS)
    # the first call finds the targets (fp32, as explain's); every later one scores
    assert model.seen[0] == (False, False)
    scoring = model.seen[1:]
    assert len(scoring) > 5 and set(scoring) == {(autocast, tf32)}
    assert torch.backends.cuda.matmul.allow_tf32 == before
    assert found.details["precision"] == precision


def test_tf32_is_fp32_on_the_cpu_and_bf16_moves_scores_a_little():
    model = TinyCNN().eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    exact = evaluate(model, IMAGES, SALIENCY, **METRICS)
    default = evaluate(model, IMAGES, SALIENCY, precision="fp32", **METRICS)
    tf32 = evaluate(model, IMAGES, SALIENCY, precision="tf32", **METRICS)
    bf16 = evaluate(model, IMAGES, SALIENCY, precision="bf16", **METRICS)
    same = dict(rtol=0, atol=0, equal_nan=True)  # NaN: an image SIC/AIC skipped
    for key, values in exact.per_image.items():
        torch.testing.assert_close(default.per_image[key], values, **same, msg=key)
        torch.testing.assert_close(tf32.per_image[key], values, **same, msg=key)  # the CPU has no TF32
    moved = {
        key: float((bf16.per_image[key] - v).abs().nan_to_num().max()) for key, v in exact.per_image.items()
    }
    assert max(moved.values()) > 0  # bf16's rounding reaches the scores
    assert moved["insertion/probability"] < 0.05 and moved["deletion/probability"] < 0.05
    assert bf16.curves["insertion"].dtype == torch.float64  # the softmax and curves stay float64
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


class NearTie(torch.nn.Module):
    """Two logits 1e-4 apart relatively: class 1 wins in float32, but bf16 rounds both weights to
    1.0, so under autocast the classes tie and argmax says 0."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3 * 12 * 12, 2, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[1.0], [1.0 + 1e-4]]).expand(2, 3 * 12 * 12))

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_the_targets_come_from_fp32_whatever_the_precision():
    model = NearTie().eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert int(model(IMAGES[:1]).argmax()) == 0  # the premise: bf16 would choose class 0
    for precision in ("fp32", "bf16"):
        found = evaluate(model, IMAGES, SALIENCY, metrics=["insertion"], precision=precision)
        assert found.targets.tolist() == [1, 1, 1], precision


def test_a_precision_wrapped_scorer_is_captured_once_per_precision():
    """The fixed-shape scoring (what CUDA graphs replay) of a wrapped model: found again in the
    cache by a new wrapper of the same model and precision, kept apart from another precision's,
    and scoring what the eager path scores."""
    from idgi_fast.metrics.insertion import insertion_deletion_batched
    from idgi_fast.runtime import graphs
    from idgi_fast.runtime.precision import scoring_model

    model, targets = TinyCNN().eval(), torch.tensor([0, 2, 4])
    graphs.clear_graphs()

    def curves(precision: str, mode: str):
        wrapped = scoring_model(model, precision, IMAGES.device)
        found = insertion_deletion_batched(
            wrapped, IMAGES, SALIENCY, targets, levels=4, batch_size=4, graphs=mode
        )
        return found.curves["insertion"]

    first = curves("bf16", "static")
    captured = len(graphs.CACHE.entries)  # one per chunk size: the inputs' and the curves'
    assert captured == 2
    assert torch.equal(curves("bf16", "static"), first) and len(graphs.CACHE.entries) == captured
    curves("tf32", "static")
    assert len(graphs.CACHE.entries) == 2 * captured
    # padded vs unpadded last chunk under bf16: the model's rounding, not the scoring, may differ
    torch.testing.assert_close(first, curves("bf16", "off"), rtol=0, atol=1e-3)
    graphs.clear_graphs()
