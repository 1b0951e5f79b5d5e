"""Synthetic scenes: one shape on a textured background, with its ground-truth mask.

Every scene is a pure function of (seed, index): the same pair gives the same image on any
machine, so a held-out split is just another seed. Labels cycle through the classes so any
run of consecutive indices is balanced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.progress import progress

SHAPE_CLASSES = ("circle", "square", "triangle", "star", "cross", "ring")
IMAGE_SIZE = 224
_SUPERSAMPLE = 2  # anti-aliased edges: shapes are rasterised at 2× and averaged down


@dataclass
class SceneBatch:
    images: torch.Tensor  # (N, 3, H, W) float32 in [0, 1]
    masks: torch.Tensor  # (N, H, W) bool: the object's pixels (coverage ≥ 1/2)
    labels: torch.Tensor  # (N,) int64 index into SHAPE_CLASSES

    def __len__(self) -> int:
        return self.labels.shape[0]


def _regular_polygon(corners: int, radius: float = 1.0, phase: float = math.pi / 2) -> torch.Tensor:
    angles = phase + torch.arange(corners, dtype=torch.float64) * (2 * math.pi / corners)
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1)


def _star(points: int = 5, outer: float = 1.0, inner: float = 0.45) -> torch.Tensor:
    angles = math.pi / 2 + torch.arange(2 * points, dtype=torch.float64) * (math.pi / points)
    radii = torch.tensor([outer, inner], dtype=torch.float64).repeat(points)
    return torch.stack([radii * torch.cos(angles), radii * torch.sin(angles)], dim=1)


def _cross(arm: float = 0.32) -> torch.Tensor:
    a, b = arm, 1.0
    return torch.tensor(
        [
            [a, b],
            [-a, b],
            [-a, a],
            [-b, a],
            [-b, -a],
            [-a, -a],
            [-a, -b],
            [a, -b],
            [a, -a],
            [b, -a],
            [b, a],
            [a, a],
        ],
        dtype=torch.float64,
    )


_POLYGONS = {
    "square": _regular_polygon(4, phase=math.pi / 4),
    "triangle": _regular_polygon(3),
    "star": _star(),
    "cross": _cross(),
}


def _inside_polygon(u: torch.Tensor, v: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Even-odd crossing test of every (u, v) against a closed polygon."""
    inside = torch.zeros_like(u, dtype=torch.bool)
    n = vertices.shape[0]
    for i in range(n):
        x1, y1 = vertices[i].tolist()
        x2, y2 = vertices[(i + 1) % n].tolist()
        if y1 == y2:
            continue
        straddles = (y1 > v) != (y2 > v)
        crossing_u = (x2 - x1) * (v - y1) / (y2 - y1) + x1
        inside ^= straddles & (u < crossing_u)
    return inside


def shape_coverage(shape: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """1 inside the unit-size shape at local coordinates (u, v), else 0."""
    if shape == "circle":
        inside = u * u + v * v <= 0.85**2
    elif shape == "ring":
        r2 = u * u + v * v
        inside = (r2 <= 1.0) & (r2 >= 0.55**2)
    else:
        inside = _inside_polygon(u, v, _POLYGONS[shape])
    return inside.to(torch.float32)


def _uniform(generator: np.random.Generator, low: float, high: float, size=()) -> torch.Tensor:
    return torch.from_numpy(np.asarray(generator.uniform(low, high, size), dtype=np.float64))


def _background(generator: np.random.Generator, size: int) -> torch.Tensor:
    base = _uniform(generator, 0.15, 0.85, (3, 1, 1))
    ys, xs = torch.meshgrid(
        torch.arange(size, dtype=torch.float64) / size,
        torch.arange(size, dtype=torch.float64) / size,
        indexing="ij",
    )
    texture = torch.zeros(3, size, size, dtype=torch.float64)
    for _ in range(3):
        cycles = float(_uniform(generator, 1.0, 9.0))
        angle = float(_uniform(generator, 0.0, math.pi))
        phase = float(_uniform(generator, 0.0, 2 * math.pi))
        amplitude = _uniform(generator, 0.03, 0.12, (3, 1, 1))
        wave = torch.sin(2 * math.pi * cycles * (xs * math.cos(angle) + ys * math.sin(angle)) + phase)
        texture += amplitude * wave
    noise = 0.03 * torch.from_numpy(generator.standard_normal((3, size, size)))
    return base + texture + noise, base.view(3)


def render_scene(index: int, seed: int = 0, size: int = IMAGE_SIZE) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(image (3, H, W) float32 in [0, 1], mask (H, W) bool, label) of scene `index` of `seed`."""
    # SeedSequence([seed, index]) gives every (seed, index) its own stream; folding both into one
    # integer seed would collide (torch's CPU generator keeps only 32 bits of a seed).
    generator = np.random.default_rng([seed, index])
    label = index % len(SHAPE_CLASSES)
    shape = SHAPE_CLASSES[label]
    background, background_colour = _background(generator, size)

    colour = _uniform(generator, 0.0, 1.0, (3,))
    for _ in range(32):  # keep the object visible against the background
        if float((colour - background_colour).norm()) >= 0.4:
            break
        colour = _uniform(generator, 0.0, 1.0, (3,))
    else:
        colour = 1.0 - background_colour

    radius = float(_uniform(generator, 0.13, 0.30)) * size
    cx = float(_uniform(generator, radius, size - radius))
    cy = float(_uniform(generator, radius, size - radius))
    angle = float(_uniform(generator, 0.0, 2 * math.pi))

    fine = size * _SUPERSAMPLE
    grid = (torch.arange(fine, dtype=torch.float64) + 0.5) / _SUPERSAMPLE
    ys, xs = torch.meshgrid(grid, grid, indexing="ij")
    dx, dy = xs - cx, ys - cy
    cos, sin = math.cos(angle), math.sin(angle)
    u = (cos * dx + sin * dy) / radius
    v = (-sin * dx + cos * dy) / radius
    coverage = shape_coverage(shape, u, v)
    coverage = F.avg_pool2d(coverage[None, None], _SUPERSAMPLE)[0, 0].to(torch.float64)

    rows = torch.arange(size, dtype=torch.float64).view(1, size, 1) + 0.5
    shading = (
        1.0 + float(_uniform(generator, -0.15, 0.15)) * (rows - cy) / radius
    )  # light from above or below
    object_pixels = colour.view(3, 1, 1) * shading
    image = background * (1 - coverage) + object_pixels * coverage
    image = image.clamp(0.0, 1.0).to(torch.float32)
    return image, coverage >= 0.5, label


def generate_scenes(count: int, seed: int = 0, start: int = 0, size: int = IMAGE_SIZE) -> SceneBatch:
    """Scenes start … start + count − 1 of `seed`, stacked."""
    if count < 1:
        raise ValueError(f"count must be ≥ 1, got {count}")
    images = torch.empty(count, 3, size, size)
    masks = torch.empty(count, size, size, dtype=torch.bool)
    labels = torch.empty(count, dtype=torch.long)
    for row, index in enumerate(progress(range(start, start + count), desc="scenes", unit="img")):
        images[row], masks[row], labels[row] = render_scene(index, seed, size)
    return SceneBatch(images, masks, labels)


class SceneDataset(torch.utils.data.Dataset):
    """Scenes `start` … `start + count − 1` of `seed` as a map-style dataset for a DataLoader:
    item i is (image (3, H, W) float32 in [0, 1], label, mask (H, W) bool), rendered on access
    (a pure function of (seed, index), so workers and shards need no shared state)."""

    def __init__(self, count: int, seed: int = 1, start: int = 0, size: int = IMAGE_SIZE):
        if count < 1 or start < 0:
            raise ValueError(f"count must be ≥ 1 and start ≥ 0, got count={count}, start={start}")
        self.count, self.seed, self.start, self.size = count, seed, start, size

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        if not -self.count <= i < self.count:
            raise IndexError(f"scene {i} is outside this dataset of {self.count}")
        image, mask, label = render_scene(self.start + i % self.count, self.seed, self.size)
        return image, label, mask
