"""idgi_fast.gradient_shap (docs/extensions.md §9): a literal per-sample oracle, the analytic
answer of a linear model, batch-size and batching invariance, memory independent of the
number of samples, and clear errors. The Captum drop-in's parity is in test_captum.py."""

from __future__ import annotations

import pytest
import torch
from conftest import LinearLogit, TinyCNN, peak_bytes

import idgi_fast
from idgi_fast.noise import NoiseSettings, draw_shap
from idgi_fast.outputs import NonFiniteOutput


def _images(batch=2, seed=0):
    return torch.rand(batch, 3, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_equals_the_literal_mean_of_the_drawn_gradients():
    model = TinyCNN().double().eval()
    x, rows = _images(), _images(5, seed=1)
    found = idgi_fast.gradient_shap(model, x, rows, target=1, samples=7, stdev=0.1, seed=3, batch_size=3)
    epsilon, alpha, chosen = draw_shap(x, NoiseSettings(samples=7, stdev=0.1, seed=3), range(7), 5)
    want = torch.zeros_like(x)
    for i in range(2):
        for s in range(7):
            noisy, baseline = x[i] + epsilon[i, s], rows[chosen[i, s]]
            point = (alpha[i, s] * noisy + (1 - alpha[i, s]) * baseline)[None].requires_grad_(True)
            (gradient,) = torch.autograd.grad(torch.softmax(model(point), dim=1)[0, 1], point)
            want[i] += gradient[0] * (noisy - baseline) / 7
    torch.testing.assert_close(found, want, rtol=1e-10, atol=1e-14)
    # the draws cover more than one baseline row and spread α
    assert len(set(chosen.flatten().tolist())) > 1 and float(alpha.std()) > 0.1


def test_a_linear_model_gives_its_weight_times_the_mean_offset():
    weight = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    model = LinearLogit(weight).double().eval()
    x = _images(3)
    found = idgi_fast.gradient_shap(
        model, x, [0.0, 1.0], target=0, samples=9, stdev=0.2, seed=4, output="logit"
    )
    epsilon, _, chosen = draw_shap(x, NoiseSettings(samples=9, stdev=0.2, seed=4), range(9), 2)
    offset = x[:, None] + epsilon - chosen.to(x.dtype).view(3, 9, 1, 1, 1)  # baseline k is the number k
    torch.testing.assert_close(found, weight * offset.mean(dim=1), rtol=1e-10, atol=1e-13)


def test_one_seed_gives_one_result_on_every_batch_size_and_batching():
    model = TinyCNN().double().eval()
    x = _images(3, seed=5)
    runs = [
        idgi_fast.gradient_shap(model, x, [0.0, x.mean()], target=2, samples=6, stdev=0.1, batch_size=size)
        for size in (1, 4, 64)
    ]
    for other in runs[1:]:
        torch.testing.assert_close(other, runs[0], rtol=1e-9, atol=1e-15)
    keyed = dict(target=2, samples=6, stdev=0.1, seed=8)
    together = idgi_fast.gradient_shap(model, x, [0.0, 1.0], image_keys=[4, 5, 6], **keyed)
    alone = idgi_fast.gradient_shap(model, x[1:2], [0.0, 1.0], image_keys=[5], **keyed)
    torch.testing.assert_close(alone[0], together[1], rtol=1e-12, atol=1e-15)
    assert not torch.allclose(idgi_fast.gradient_shap(model, x, [0.0, 1.0], **{**keyed, "seed": 9}), together)


def test_peak_memory_does_not_grow_with_samples():
    model = TinyCNN().eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    rows = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(4))

    def run(samples):
        return lambda: idgi_fast.gradient_shap(model, x, rows, target=0, samples=samples, batch_size=8)

    small, large = peak_bytes(run(8)), peak_bytes(run(64))
    assert large <= 1.10 * small, (small, large)


def test_a_nan_gradient_names_the_image_and_sample():
    class NanAbove(torch.nn.Module):
        def forward(self, x):
            score = x.flatten(1).sum(dim=1)
            score = torch.where(score > 80, torch.full_like(score, float("nan")), score)
            return torch.stack([score, -score], dim=1)

    x = torch.cat([torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8)])
    with pytest.raises(NonFiniteOutput, match=r"at sample \d+ for input 1 \(target 0\)"):
        idgi_fast.gradient_shap(NanAbove(), x, [0.0], target=0, samples=8, output="logit")
