"""Noise tunnels (docs/extensions.md §9): SmoothGrad, SmoothGrad² and VarGrad over any method.

An attribution is computed for `samples` noisy copies x + ε of every input, ε ~ N(0, stdev²)
per feature, and the copies' attributions a_1 … a_n are reduced per image as Captum's
NoiseTunnel does: smoothgrad the mean of a_s, smoothgrad_sq the mean of a_s², vargrad the mean
of a_s² minus the square of the mean. Each (image, sample) draws its noise from its own
generator, seeded from (seed, image key, sample index) on the CPU, so a seed gives
the same noise on every device, backend, batch size and grouping of samples. An image's key is its
position in the call unless `image_keys` names one per image (a dataset index, say), which makes
its noise independent of the batch it comes in.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import torch

from .utils.checks import check_positive_int

NOISE_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")
_NOISE_KEYS = ("type", "samples", "stdev", "seed", "image_keys")


@dataclass(frozen=True)
class NoiseSettings:
    """A checked noise specification; `explain(noise=...)` accepts one or a dict of its fields."""

    type: str = "smoothgrad"
    samples: int = 16
    stdev: float = 0.15
    seed: int = 0
    image_keys: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.type not in NOISE_TYPES:
            raise ValueError(f"noise type must be one of {NOISE_TYPES}, got {self.type!r}")
        object.__setattr__(self, "samples", check_positive_int("noise samples", self.samples))
        stdev = self.stdev
        if isinstance(stdev, bool) or not isinstance(stdev, numbers.Real) or not 0 <= float(stdev) < math.inf:
            raise ValueError(
                f"noise stdev must be a finite number ≥ 0 (the noise's standard deviation in input "
                f"units), got {stdev!r}"
            )
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, numbers.Integral)
            or not 0 <= self.seed < 2**63
        ):
            raise ValueError(f"noise seed must be an int in [0, 2**63), got {self.seed!r}")
        object.__setattr__(self, "stdev", float(stdev))
        object.__setattr__(self, "seed", int(self.seed))
        if self.image_keys is not None:
            keys = self.image_keys
            if isinstance(keys, torch.Tensor):
                keys = keys.tolist()
            if (
                isinstance(keys, (str, bytes))
                or not hasattr(keys, "__len__")
                or any(
                    isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k < 2**63
                    for k in keys
                )
            ):
                raise ValueError(
                    f"noise image_keys must be a list of ints in [0, 2**63), one per input image (e.g. its "
                    f"index in the dataset), got {self.image_keys!r}"
                )
            if len(set(keys)) != len(keys):
                raise ValueError(
                    "noise image_keys must be distinct: two images with one key would get the same noise; "
                    "key each image by its own id (e.g. its index in the dataset)"
                )
            object.__setattr__(self, "image_keys", tuple(int(k) for k in keys))

    def check_batch(self, batch: int) -> None:
        """image_keys, when given, name every image of a batch of `batch` inputs."""
        if self.image_keys is not None and len(self.image_keys) != batch:
            raise ValueError(
                f"noise image_keys holds {len(self.image_keys)} keys for {batch} input images; give one "
                "per image"
            )

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _NOISE_KEYS}


def check_noise(noise: object) -> NoiseSettings | None:
    """None, a NoiseSettings or a dict of its fields ("type", "samples", "stdev", "seed",
    "image_keys") → a NoiseSettings (or None)."""
    if noise is None or isinstance(noise, NoiseSettings):
        return noise
    if not isinstance(noise, dict):
        raise TypeError(
            f"noise must be None, a dict such as {{'type': 'smoothgrad', 'samples': 16, 'stdev': 0.15, "
            f"'seed': 0}} or an idgi_fast.NoiseSettings; got {type(noise).__name__}"
        )
    unknown = sorted(set(noise) - set(_NOISE_KEYS))
    if unknown:
        raise ValueError(f"unknown noise key(s) {unknown}; the keys are {list(_NOISE_KEYS)}")
    return NoiseSettings(**noise)


_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


def _stream_seed(seed: int, image: int, sample: int, stream: int = 0) -> int:
    """A generator seed per (seed, image key, sample, stream): distinct odd multipliers, folded
    to 63 bits. Stream 0 draws ε, stream 1 GradientSHAP's α and baseline row."""
    return (seed * _MIX[0] + (image + 1) * _MIX[1] + (sample + 1) * _MIX[2] + stream * _MIX[3]) % 2**63


def draw_noise(inputs: torch.Tensor, noise: NoiseSettings, samples: range) -> torch.Tensor:
    """ε of every image of `inputs` (B, …) for the given sample indices: (B, len(samples), …)
    in the inputs' dtype and device. Image i, sample s: float32 standard normals from its own
    CPU generator (keyed by image_keys[i] when given, else by i), times stdev in the inputs'
    dtype. Float32 draws are the CPU's vectorised path, 8× faster than float64's, and give
    float32 and float64 inputs the same normals."""
    noise.check_batch(inputs.shape[0])
    keys = noise.image_keys or range(inputs.shape[0])
    shape = inputs.shape[1:]
    drawn = torch.zeros((inputs.shape[0], len(samples), *shape), dtype=inputs.dtype)
    if noise.stdev == 0:
        return drawn.to(inputs.device)
    generator = torch.Generator()
    for image, key in enumerate(keys):
        for column, sample in enumerate(samples):
            generator.manual_seed(_stream_seed(noise.seed, key, sample))
            drawn[image, column] = torch.randn(shape, generator=generator, dtype=torch.float32)
    return (drawn * noise.stdev).to(inputs.device)


def draw_shap(
    inputs: torch.Tensor, noise: NoiseSettings, samples: range, rows: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """GradientSHAP's draws for the given sample indices (docs/extensions.md §9): ε (B, g, …) as
    draw_noise's (so the same noise as a tunnel of that seed and keys), and from a second stream
    of each (image, sample) α (B, g) float64 in [0, 1) and the baseline row (B, g) int64 in
    [0, rows), so that they do not depend on stdev."""
    keys = noise.image_keys or range(inputs.shape[0])
    alpha = torch.empty((inputs.shape[0], len(samples)), dtype=torch.float64)
    chosen = torch.empty((inputs.shape[0], len(samples)), dtype=torch.int64)
    generator = torch.Generator()
    for image, key in enumerate(keys):
        for column, sample in enumerate(samples):
            generator.manual_seed(_stream_seed(noise.seed, key, sample, stream=1))
            alpha[image, column] = torch.rand((), generator=generator, dtype=torch.float64)
            chosen[image, column] = torch.randint(rows, (), generator=generator)
    return draw_noise(inputs, noise, samples), alpha, chosen


class SampleSums:
    """Running Σ a (and, for the squared kinds, Σ a²) over samples, per image, in float64;
    `reduce` gives the map of `kind` (one of NOISE_TYPES; a plain mean is "smoothgrad") in the
    inputs' dtype."""

    def __init__(self, kind: str = "smoothgrad"):
        self.kind = kind
        self.total: torch.Tensor | None = None
        self.squares: torch.Tensor | None = None

    def add(self, attributions: torch.Tensor) -> None:
        """attributions (B, g, …): g more samples of every image."""
        a = attributions.to(torch.float64)
        total = a.sum(dim=1)
        squares = (a * a).sum(dim=1) if self.kind != "smoothgrad" else None
        if self.total is None:
            self.total, self.squares = total, squares
        else:
            self.total += total
            if squares is not None:
                self.squares += squares

    def reduce(self, samples: int, dtype: torch.dtype) -> torch.Tensor:
        mean = self.total / samples
        if self.kind == "smoothgrad":
            return mean.to(dtype)
        mean_square = self.squares / samples
        found = mean_square if self.kind == "smoothgrad_sq" else mean_square - mean * mean
        return found.to(dtype)
