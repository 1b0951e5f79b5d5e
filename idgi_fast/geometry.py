"""The ground floor: where path points are (docs/semantics.md §3–§4) and the Gaussian blur.

Sampled Gaussian taps, blur matrices and the blur itself, the Blur IG sigmas and the
straight line's positions. The reference, the ops, the engine and the metrics all take
them from here; how gradients are taken and accumulated is each backend's business.
"""

from __future__ import annotations

import math

import torch


def blur_sigmas(
    steps: int, max_sigma: float, sqrt: bool, positions: torch.Tensor | None = None
) -> list[float]:
    """σ_i = i·max_sigma/m (or its square root), i = 0…m, as Python floats (float64); with a
    schedule's positions α_j (§4), σ_i = max_sigma·(1 − α_(m−i)), so that σ falls from max_sigma
    at α = 0 to 0 at α = 1."""
    if positions is None:
        values = [i * max_sigma / steps for i in range(steps + 1)]
    else:
        values = [max_sigma * (1.0 - float(positions[steps - i])) for i in range(steps + 1)]
    return [math.sqrt(v) for v in values] if sqrt else values


def straight_positions(steps: int) -> torch.Tensor:
    """α_k = k/m, k = 0…m, float64: the positions of the straight path's points (§3)."""
    return torch.arange(steps + 1, dtype=torch.float64) / steps


def gaussian_radius(sigma: float) -> int:
    """r = int(4σ + 0.5): the support of the sampled Gaussian (may exceed the image)."""
    return int(4.0 * sigma + 0.5)


def gaussian_weights(sigma: float) -> torch.Tensor:
    """Sampled Gaussian w_t ∝ exp(−t²/2σ²), t = −r…r, normalised to sum 1 (float64).

    σ = 0 (and any σ whose radius is 0) gives the identity kernel [1].
    """
    radius = gaussian_radius(sigma)
    if radius == 0:
        return torch.ones(1, dtype=torch.float64)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-(t * t) / (2.0 * sigma * sigma))
    return w / w.sum()


def reflect_index(index: torch.Tensor, size: int) -> torch.Tensor:
    """Map any integer index onto [0, size) by half-sample symmetric reflection.

    `reflect` padding repeats the edge sample (… c b a | a b c … x y z | z y x …), the
    convention of scipy.ndimage's mode="reflect" that the Blur IG authors' tooling uses.
    The mapping is periodic with period 2·size, so it is defined for radii larger than
    the image.
    """
    period = 2 * size
    folded = torch.remainder(index, period)
    return torch.where(folded >= size, period - 1 - folded, folded)


def blur_matrix(sigma: float, size: int, padding: str) -> torch.Tensor:
    """The (size × size) float64 matrix A with (A @ v) = 1-D Gaussian blur of v.

    A[i, j] = Σ_{t : src(i + t) = j} w_t, where src maps padded positions to samples
    (zeros padding drops positions outside [0, size); reflect padding folds them back).
    """
    weights = gaussian_weights(sigma)
    radius = (weights.numel() - 1) // 2
    offsets = torch.arange(-radius, radius + 1)
    rows = torch.arange(size)
    if padding == "zeros":  # Toeplitz: A[i, j] = w_(j − i) inside the support, each entry one weight
        shift = rows[None, :] - rows[:, None]
        return torch.where(shift.abs() <= radius, weights[(shift + radius).clamp(0, 2 * radius)], 0.0)
    source = rows[:, None] + offsets[None, :]  # (size, 2r+1)
    matrix = torch.zeros(size, size, dtype=torch.float64)
    w = weights.expand(size, -1)
    if padding == "reflect":
        folded = reflect_index(source, size)
        matrix.index_put_(
            (rows[:, None].expand_as(source).reshape(-1), folded.reshape(-1)), w.reshape(-1), accumulate=True
        )
    else:
        raise ValueError(f"padding must be 'zeros' or 'reflect', got {padding!r}")
    return matrix


def gaussian_blur(x: torch.Tensor, sigma: float, padding: str = "zeros") -> torch.Tensor:
    """G_σ(x) for x of shape (B, C, H, W): separable, along H then W, never across channels.

    Computed as A_H · x · A_Wᵀ in float64 and returned in x's dtype.
    """
    if sigma == 0 or gaussian_radius(sigma) == 0:
        return x.clone()
    height, width = x.shape[-2:]
    a_h = blur_matrix(sigma, height, padding).to(x.device)
    a_w = blur_matrix(sigma, width, padding).to(x.device)
    x64 = x.to(torch.float64)
    blurred = torch.matmul(a_h, x64)  # along H
    blurred = torch.matmul(blurred, a_w.transpose(0, 1))  # along W
    return blurred.to(x.dtype)
