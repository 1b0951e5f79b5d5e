"""Noise tunnels (docs/extensions.md §9): analytic answers on a linear model, per-sample IDGI
completeness, the same noise on every backend and batch size, memory independent of the number
of samples, and clear errors for bad settings."""

from __future__ import annotations

import pytest
import torch
from conftest import LinearLogit, TinyCNN, peak_bytes

import idgi_fast
from idgi_fast.noise import NOISE_TYPES, NoiseSettings, draw_noise
from idgi_fast.ops.native import native_error

BACKENDS = ["reference", "torch", "triton"] + (["native"] if native_error() is None else [])


@pytest.mark.parametrize("kind", NOISE_TYPES)
def test_a_linear_model_gives_the_moments_of_its_noise(kind):
    """IG of w·x on the logit is w ⊙ (x + ε − x′) for every sample, so the tunnels are the mean,
    the mean square and the variance of that over the drawn ε."""
    weight = torch.randn(1, 2, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model = LinearLogit(weight).double().eval()
    x = torch.rand(3, 2, 4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    noise = NoiseSettings(kind, samples=7, stdev=0.2, seed=3)
    result = idgi_fast.explain(model, x, target=0, steps=4, output="logit", noise=noise, backend="torch")
    per_sample = weight * (x[:, None] + draw_noise(x, noise, range(7)))  # (B, samples, …), baseline 0
    want = {
        "smoothgrad": per_sample.mean(dim=1),
        "smoothgrad_sq": (per_sample**2).mean(dim=1),
        "vargrad": (per_sample**2).mean(dim=1) - per_sample.mean(dim=1) ** 2,
    }[kind]
    torch.testing.assert_close(result.base, want, rtol=1e-10, atol=1e-12)
    assert result.noise == noise.as_dict() and result.evaluations == 7 * 5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["ig", "blur_ig", "guided_ig"])
def test_idgi_is_complete_for_every_noisy_sample(method, backend):
    model = TinyCNN().double().eval()
    x = torch.rand(2, 3, 9, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    params = {"max_sigma": 3.0} if method == "blur_ig" else {}
    result = idgi_fast.explain(
        model,
        x,
        target=1,
        method=method,
        steps=6,
        noise={"type": "smoothgrad", "samples": 3, "stdev": 0.1, "seed": 1},
        backend=backend,
        batch_size=4,
        **params,
    )
    gaps = result.sample_completeness_gap(idgi=True)
    assert gaps.shape == (2, 3) and float(gaps.max()) < 1e-12
    # the mean of complete samples is complete against the samples' mean F
    assert float(result.completeness_gap(idgi=True).max()) < 1e-12
    assert result.sample_outputs.shape == (2, 3, 7)


def test_one_seed_gives_the_same_maps_on_every_backend_and_batch_size():
    model = TinyCNN().double().eval()
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    noise = {"type": "vargrad", "samples": 6, "stdev": 0.3, "seed": 11}
    runs = [
        idgi_fast.explain(model, x, target=2, steps=5, noise=noise, backend=backend, batch_size=size)
        for backend in BACKENDS
        for size in (1, 7, 64)
    ]
    for other in runs[1:]:
        torch.testing.assert_close(other.base, runs[0].base, rtol=1e-9, atol=1e-13)
        torch.testing.assert_close(other.idgi, runs[0].idgi, rtol=1e-9, atol=1e-13)
    other_seed = idgi_fast.explain(model, x, target=2, steps=5, noise={**noise, "seed": 12}, backend="torch")
    assert not torch.allclose(other_seed.base, runs[0].base)
    # image i's noise does not depend on the samples drawn with it
    assert torch.equal(
        draw_noise(x, NoiseSettings(seed=5), range(2, 4)),
        draw_noise(x, NoiseSettings(seed=5), range(6))[:, 2:4],
    )


def test_image_keys_make_an_images_noise_independent_of_its_batch():
    model = TinyCNN().double().eval()
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    noise = {"type": "smoothgrad", "samples": 3, "stdev": 0.2, "seed": 2}
    together = idgi_fast.explain(
        model, x, target=1, steps=4, noise={**noise, "image_keys": [70, 71, 72]}, backend="torch"
    )
    alone = idgi_fast.explain(
        model, x[2:], target=1, steps=4, noise={**noise, "image_keys": [72]}, backend="torch"
    )
    torch.testing.assert_close(alone.idgi[0], together.idgi[2], rtol=1e-12, atol=1e-15)
    # without keys the image's noise is that of its position in the call
    by_position = idgi_fast.explain(model, x[2:], target=1, steps=4, noise=noise, backend="torch")
    assert not torch.allclose(by_position.idgi[0], together.idgi[2])


def test_peak_memory_does_not_grow_with_samples():
    model = TinyCNN().eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))

    def run(samples):
        noise = {"type": "smoothgrad_sq", "samples": samples, "stdev": 0.1}
        return lambda: idgi_fast.explain(
            model, x, target=0, steps=8, noise=noise, backend="torch", batch_size=8
        )

    # 2 groups of 4 samples against 16: the running sums live beside every group after the first
    small, large = peak_bytes(run(8)), peak_bytes(run(64))
    assert large <= 1.10 * small, (small, large)


def test_completeness_of_a_squared_map_is_refused_with_the_way_out():
    model = TinyCNN().double().eval()
    result = idgi_fast.explain(
        model,
        torch.rand(1, 3, 8, 8, dtype=torch.float64),
        target=0,
        steps=4,
        noise={"type": "vargrad", "samples": 2},
    )
    with pytest.raises(ValueError, match="use sample_completeness_gap"):
        result.completeness_gap(idgi=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["ig", "guided_ig"])
def test_several_baselines_average_full_paths_and_each_is_complete(method, backend):
    model = TinyCNN().double().eval()
    x = torch.rand(2, 3, 8, 9, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    baselines = [
        None,
        1.0,
        torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(7), dtype=torch.float64),
    ]
    options = dict(target=3, method=method, steps=5, backend=backend, batch_size=4)
    result = idgi_fast.explain(model, x, baselines=baselines, **options)
    singles = [idgi_fast.explain(model, x, baselines=b, **options) for b in baselines]
    for idgi in (False, True):
        want = torch.stack([r.attribution(idgi=idgi) for r in singles]).mean(dim=0)
        torch.testing.assert_close(result.attribution(idgi=idgi), want, rtol=1e-9, atol=1e-12)
    assert result.sample_completeness_gap(idgi=True).shape == (2, 3)
    assert float(result.sample_completeness_gap(idgi=True).max()) < 1e-12
    assert result.evaluations == 3 * singles[0].evaluations
