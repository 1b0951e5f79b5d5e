"""XRAI (Kapishnikov et al., 2019): region attributions from a pixel attribution (docs/extensions.md §10).

An image is over-segmented by Felzenszwalb's algorithm at several scales; each segment, dilated,
is a candidate region. Starting from nothing, the region that adds the highest mean attribution
over its not-yet-covered pixels is added, until the covered area exceeds `area_threshold`;
each pixel gets the gain of the region that covered it, and the rest the mean attribution over
the rest. Regions adding fewer than `min_pixel_diff` new pixels are dropped. The settings are
the PAIR library's (its `XRAI` class, "full" algorithm), so with the same base attribution the
result equals PAIR's.

The segmentation runs scikit-image on the CPU (`pip install 'idgi-fast[xrai]'`); the dilation
and the greedy selection are tensor operations over all regions at once, on the attribution's
device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .api import explain
from .geometry import reflect_index
from .validation import check_finite

SCALES = (50, 100, 150, 250, 500, 1200)  # Felzenszwalb's scale parameter, one segmentation each
SIGMA = 0.8
MIN_SEGMENT_SIZE = 150
SEGMENTATION_SIDE = 224  # images are segmented at 224×224, values rescaled to [-1, 1]


def check_xrai_available() -> None:
    """Raise ImportError naming the extra to install when scikit-image is missing."""
    _skimage()


def _skimage():
    try:
        import skimage.segmentation
        import skimage.transform
    except ImportError as error:
        raise ImportError(
            "XRAI segments images with scikit-image, which is not installed: pip install 'idgi-fast[xrai]'"
        ) from error
    return skimage


def disk(radius: int) -> torch.Tensor:
    """(2r + 1, 2r + 1) bool: offsets within Euclidean distance r (the dilation's footprint)."""
    offsets = torch.arange(-radius, radius + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius


def segment_masks(image: torch.Tensor, dilation_radius: int = 5) -> torch.Tensor:
    """Candidate regions of one image (C, H, W): (M, H, W) bool, every label of every scale's
    segmentation as one mask (in order of scale, then label), each dilated by a disk."""
    skimage = _skimage()
    array = image.detach().to(torch.float64).cpu().permute(1, 2, 0).numpy()
    low, high = array.min(), array.max()
    array = (array - low) / (high - low) * 2.0 - 1.0
    side = (SEGMENTATION_SIDE, SEGMENTATION_SIDE)
    resized = skimage.transform.resize(
        array, side, order=3, mode="constant", preserve_range=True, anti_aliasing=True
    )
    masks = []
    for scale in SCALES:
        labels = skimage.segmentation.felzenszwalb(
            resized, scale=scale, sigma=SIGMA, min_size=MIN_SEGMENT_SIZE
        )
        labels = skimage.transform.resize(
            labels, image.shape[-2:], order=0, preserve_range=True, mode="constant", anti_aliasing=False
        ).astype(int)
        labels = torch.from_numpy(labels)
        masks.append(labels[None] == torch.arange(int(labels.min()), int(labels.max()) + 1)[:, None, None])
    masks = torch.cat(masks)
    if dilation_radius:
        masks = dilate(masks, dilation_radius)
    return masks


def dilate(masks: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary dilation of (M, H, W) masks by disk(radius), the border extended by half-sample
    symmetric reflection (scikit-image's default, scipy's mode="reflect"): one convolution."""
    height, width = masks.shape[-2:]
    rows = reflect_index(torch.arange(-radius, height + radius), height)
    cols = reflect_index(torch.arange(-radius, width + radius), width)
    padded = masks[:, rows][:, :, cols].float()[:, None]
    footprint = disk(radius).to(torch.float32)[None, None]
    return torch.nn.functional.conv2d(padded, footprint)[:, 0] > 0


@dataclass
class XraiResult:
    """maps (B, H, W) float64: each pixel's region gain; ranks (B, H, W) int64: 1 for the first
    region chosen (highest gain) … N, the uncovered rest last."""

    maps: torch.Tensor
    ranks: torch.Tensor


def xrai_regions(
    attribution: torch.Tensor, masks: torch.Tensor, area_threshold: float = 1.0, min_pixel_diff: int = 50
) -> tuple[torch.Tensor, torch.Tensor]:
    """The greedy selection for one image: attribution (H, W), masks (M, H, W) bool →
    (map (H, W) float64, ranks (H, W) int64). All regions' gains are computed at once per step."""
    device = attribution.device
    values = attribution.to(torch.float64).flatten()
    regions = masks.to(device).flatten(1)
    # each region's uncovered pixel count and attribution sum, kept up to date as pixels get
    # covered: a step touches only the newly covered pixels of every region
    counts = regions.sum(dim=1)
    sums = torch.cat([part.double() @ values for part in regions.split(64)])
    alive = torch.ones(regions.shape[0], dtype=torch.bool, device=device)
    covered = torch.zeros_like(values, dtype=torch.bool)
    output = torch.full_like(values, -torch.inf)
    chosen: list[tuple[torch.Tensor, float]] = []
    while float(covered.double().mean()) <= area_threshold:
        alive &= counts >= min_pixel_diff
        if not bool(alive.any()):
            break
        gains = torch.where(alive, sums / counts.clamp(min=1), -torch.inf)
        best = int(torch.argmax(gains))  # the first of equal gains, as a scan in order keeps
        added = regions[best] & ~covered
        gain = float(values[added].mean())  # the chosen region's gain summed afresh, not updated
        chosen.append((added, gain))
        covered |= added
        output[added] = gain
        alive[best] = False
        newly = added.nonzero().flatten()
        touched = regions[:, newly]
        counts -= touched.sum(dim=1)
        sums -= touched.double() @ values[newly]
    rest = output == -torch.inf
    if bool(rest.any()):
        output[rest] = values[rest].mean()
    ranks = torch.zeros(values.shape, dtype=torch.int64, device=device)
    order = sorted(range(len(chosen)), key=lambda i: -chosen[i][1])  # stable: ties keep their order
    for rank, index in enumerate(order, start=1):
        ranks[chosen[index][0]] = rank
    if bool(rest.any()):
        ranks[rest] = len(chosen) + 1
    shape = attribution.shape
    return output.view(shape), ranks.view(shape)


def xrai(
    images: torch.Tensor,
    attributions: torch.Tensor | None = None,
    *,
    model=None,
    target=None,
    steps: int = 100,
    area_threshold: float = 1.0,
    min_pixel_diff: int = 50,
    dilation_radius: int = 5,
    segments: list[torch.Tensor] | None = None,
    **explain_options,
) -> XraiResult:
    """XRAI of images (B, C, H, W). attributions (B, C, H, W) (any method's map; channels are
    merged by their maximum) or None: IG from a black and a white baseline, averaged (PAIR's
    default), with `model`, `target`, `steps` and explain's other options. segments: each
    image's segment_masks(image, dilation_radius), when already made (several attributions of
    the same images share them)."""
    _check_images(images)
    if attributions is None:
        if model is None:
            raise ValueError("give attributions, or a model (and target) for XRAI's default IG attributions")
        attributions = explain(
            model, images, target=target, steps=steps, idgi=False, baselines=[0.0, 1.0], **explain_options
        ).base
    _check_options(images, attributions, area_threshold, min_pixel_diff, dilation_radius, segments)
    maps, ranks = [], []
    for i, (image, attribution) in enumerate(zip(images, attributions)):
        found = xrai_regions(
            attribution.max(dim=0).values,
            segment_masks(image, dilation_radius) if segments is None else segments[i],
            area_threshold,
            min_pixel_diff,
        )
        maps.append(found[0])
        ranks.append(found[1])
    return XraiResult(torch.stack(maps), torch.stack(ranks))


def _check_images(images: object) -> None:
    """A non-empty float (B, C, H, W) batch in [0, 1]: the package's image convention, and what
    the default IG's black (0) and white (1) baselines assume."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise TypeError(f"images must be a floating-point torch.Tensor (B, C, H, W) in [0, 1], got {kind}")
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty (B, C, H, W) batch, got shape {tuple(images.shape)}")
    check_finite(images, "images")
    low, high = float(images.min()), float(images.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"images must lie in [0, 1] (XRAI's default baselines are black 0 and white 1), got values "
            f"in [{low:.4g}, {high:.4g}]; divide 8-bit images by 255, and undo any normalisation"
        )


def _check_options(images, attributions, area_threshold, min_pixel_diff, dilation_radius, segments) -> None:
    if not isinstance(attributions, torch.Tensor) or not attributions.is_floating_point():
        kind = attributions.dtype if isinstance(attributions, torch.Tensor) else type(attributions).__name__
        raise TypeError(
            f"attributions must be a floating-point torch.Tensor shaped like the images, got {kind}"
        )
    if attributions.shape != images.shape:
        raise ValueError(
            f"attributions must be shaped like the images {tuple(images.shape)}, "
            f"got {tuple(attributions.shape)}"
        )
    check_finite(attributions, "attributions")
    if isinstance(area_threshold, bool) or not isinstance(area_threshold, (int, float)):
        raise TypeError(f"area_threshold must be a number in [0, 1], got {type(area_threshold).__name__}")
    if not 0.0 <= area_threshold <= 1.0:
        raise ValueError(f"area_threshold must be in [0, 1], got {area_threshold!r}")
    for name, value in (("min_pixel_diff", min_pixel_diff), ("dilation_radius", dilation_radius)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be an int ≥ 0, got {value!r}")
    if segments is None:
        return
    if len(segments) != images.shape[0]:
        raise ValueError(f"segments holds {len(segments)} images' masks for {images.shape[0]} images")
    side = tuple(images.shape[2:])
    for i, masks in enumerate(segments):
        if not isinstance(masks, torch.Tensor) or masks.dtype != torch.bool or masks.ndim != 3:
            raise ValueError(f"segments[{i}] must be an (M, H, W) bool tensor (segment_masks' result)")
        if tuple(masks.shape[1:]) != side:
            raise ValueError(f"segments[{i}] has masks of {tuple(masks.shape[1:])}, the images are {side}")
