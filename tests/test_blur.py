"""The blur operator G_σ of docs/semantics.md §4 against direct padded convolutions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from idgi_fast.geometry import blur_sigmas, gaussian_blur, gaussian_radius, gaussian_weights


def direct_blur(x: np.ndarray, sigma: float, mode: str) -> np.ndarray:
    """Pad (numpy 'constant' or 'symmetric'), then a 1-D convolution along H, then along W."""
    w = gaussian_weights(sigma).numpy()
    r = (len(w) - 1) // 2
    pad_mode = "constant" if mode == "zeros" else "symmetric"
    out = x.astype(np.float64)
    for axis in (-2, -1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (r, r)
        padded = np.pad(out, pad, mode=pad_mode)
        n = out.shape[axis]
        out = sum(w[t] * np.take(padded, np.arange(t, t + n), axis=axis) for t in range(2 * r + 1))
    return out


def test_weights_and_radius():
    assert gaussian_radius(0.0) == 0 and gaussian_radius(0.12) == 0 and gaussian_radius(0.13) == 1
    assert gaussian_radius(50.0) == 200
    w = gaussian_weights(2.0)
    assert w.numel() == 2 * 8 + 1 and abs(float(w.sum()) - 1.0) < 1e-15
    assert torch.equal(w, w.flip(0))


def test_sigma_schedule():
    assert blur_sigmas(4, 50.0, sqrt=False) == [0.0, 12.5, 25.0, 37.5, 50.0]
    assert blur_sigmas(4, 16.0, sqrt=True) == [0.0, 2.0, 8.0**0.5, 12.0**0.5, 4.0]


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
@pytest.mark.parametrize("sigma", [0.6, 1.5, 2.2])
def test_matches_padded_convolution(mode, sigma):
    x = np.random.default_rng(0).random((2, 3, 13, 11))
    got = gaussian_blur(torch.from_numpy(x), sigma, mode).numpy()
    np.testing.assert_allclose(got, direct_blur(x, sigma, mode), rtol=1e-12, atol=1e-14)


def test_radius_beyond_image():
    x = torch.rand(1, 2, 5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    constant = torch.full_like(x, 0.7)
    close = lambda a, b: torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)  # noqa: E731
    close(gaussian_blur(constant, 50.0, "reflect"), constant)  # reflection preserves a constant at any radius
    dark = gaussian_blur(constant, 50.0, "zeros")
    assert float(dark.max()) < 0.7 * 0.05  # zeros padding darkens: the kernel mostly falls outside
    # σ ≫ the reflection period: each channel becomes (almost exactly) its own mean
    blurred = gaussian_blur(x, 50.0, "reflect")
    torch.testing.assert_close(blurred, x.mean(dim=(2, 3), keepdim=True).expand_as(x), rtol=0, atol=1e-4)


def test_identity_and_dtype():
    x = torch.rand(1, 3, 6, 6)
    assert torch.equal(gaussian_blur(x, 0.0), x)
    assert gaussian_blur(x, 3.0).dtype == torch.float32
