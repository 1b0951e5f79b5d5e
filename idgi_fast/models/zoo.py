"""The study's ten torchvision ImageNet classifiers, each wrapped so that it takes images in
[0, 1] like every model of this package.

`build_model(name, weights)` returns an `ImageNetClassifier`: the network in eval mode with
ImageNet's normalisation inside `forward`, and the evaluation transform's sizes (`resize`,
`crop`) as attributes, which the study's image loading uses. The resize and crop stay outside
`forward` on purpose: attributions are over the cropped image the network sees, as in the
study, not over the file's own pixels.

Weights: None (random initialisation, for tests), the name of a torchvision weight enum member
("IMAGENET1K_V1", "DEFAULT", or a full "ResNet50_Weights.IMAGENET1K_V2"; torchvision downloads
it to its cache on first use), or the path of a state-dict file, read with
`torch.load(weights_only=True)` and checked key by key against the architecture.

torchvision is an optional dependency: `pip install 'idgi-fast[zoo]'` (a torchvision that
matches the installed torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .weights import load_state_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGENET_CLASSES = 1000
DEFAULT_WEIGHTS = "IMAGENET1K_V1"  # what torchvision's `pretrained=True` gave, the study's models


@dataclass(frozen=True)
class ZooEntry:
    builder: str  # the torchvision.models function
    weights_enum: str  # its weight enum class in torchvision.models
    resize: int  # evaluation transform of the IMAGENET1K_V1 weights: shorter side, then centre crop
    crop: int
    build_options: tuple[tuple[str, object], ...] = ()  # what the pretrained weights' architecture needs


_STANDARD = dict(resize=256, crop=224)
ZOO: dict[str, ZooEntry] = {
    "densenet121": ZooEntry("densenet121", "DenseNet121_Weights", **_STANDARD),
    "densenet169": ZooEntry("densenet169", "DenseNet169_Weights", **_STANDARD),
    "densenet201": ZooEntry("densenet201", "DenseNet201_Weights", **_STANDARD),
    # the pretrained Inception-v3 has the auxiliary head and re-scales its input to [-1, 1] itself
    "inception_v3": ZooEntry(
        "inception_v3",
        "Inception_V3_Weights",
        resize=342,
        crop=299,
        build_options=(("aux_logits", True), ("transform_input", True), ("init_weights", False)),
    ),
    "mobilenet_v2": ZooEntry("mobilenet_v2", "MobileNet_V2_Weights", **_STANDARD),
    "resnet50": ZooEntry("resnet50", "ResNet50_Weights", **_STANDARD),
    "resnet101": ZooEntry("resnet101", "ResNet101_Weights", **_STANDARD),
    "resnet152": ZooEntry("resnet152", "ResNet152_Weights", **_STANDARD),
    "vgg16": ZooEntry("vgg16", "VGG16_Weights", **_STANDARD),
    "vgg19": ZooEntry("vgg19", "VGG19_Weights", **_STANDARD),
}


class ImageNetClassifier(nn.Module):
    """A torchvision classifier taking (B, 3, H, W) images in [0, 1]; `resize` and `crop` are
    the evaluation transform its weights were scored with."""

    def __init__(
        self,
        name: str,
        network: nn.Module,
        resize: int,
        crop: int,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
    ):
        super().__init__()
        self.name, self.resize, self.crop = name, resize, crop
        self.network = network
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network((images - self.mean) / self.std)


class ZooUnavailable(ImportError):
    """torchvision is missing or does not work with the installed torch."""


def _torchvision_models():
    try:
        import torchvision.models
    except (
        ImportError,
        RuntimeError,
    ) as error:  # RuntimeError: built for another torch ("operator ... does not exist")
        raise ZooUnavailable(
            f"the model zoo needs torchvision, built for this torch ({torch.__version__}): "
            f"pip install 'idgi-fast[zoo]' ({error})"
        ) from error
    return torchvision.models


def check_zoo_available() -> None:
    """Raise the ImportError naming the fix if torchvision cannot be imported."""
    _torchvision_models()


def _entry(name: str) -> ZooEntry:
    if name not in ZOO:
        raise ValueError(f"unknown model {name!r}; the zoo has {', '.join(ZOO)}")
    return ZOO[name]


def is_weights_file(weights: str | Path) -> bool:
    """Whether a weights argument names a file (a path) rather than a torchvision enum member."""
    text = str(weights)
    return isinstance(weights, Path) or "/" in text or "\\" in text or text.endswith((".pt", ".pth", ".bin"))


def _enum_weights(name: str, entry: ZooEntry, weights: str):
    models = _torchvision_models()
    enum_name, _, member = weights.rpartition(".")
    if enum_name and enum_name != entry.weights_enum:
        raise ValueError(
            f"weights {weights!r} are for another architecture; {name} takes {entry.weights_enum} members"
        )
    enum = getattr(models, entry.weights_enum)
    try:
        return enum[member] if member != "DEFAULT" else enum.DEFAULT
    except KeyError:
        raise ValueError(
            f"{name} has no weights {member!r}; choose one of "
            f"{', '.join(m.name for m in enum)}, DEFAULT, or a state-dict file"
        ) from None


def build_model(
    name: str, weights: str | Path | None = None, device: str | torch.device = "cpu"
) -> ImageNetClassifier:
    """The zoo model `name` in eval mode on `device`, with `weights` as in the module docstring."""
    entry = _entry(name)
    models = _torchvision_models()
    options = dict(entry.build_options)
    resize, crop = entry.resize, entry.crop
    if weights is None or is_weights_file(weights):
        if name == "inception_v3" and weights is None:
            options["init_weights"] = True
        network = getattr(models, entry.builder)(weights=None, num_classes=IMAGENET_CLASSES, **options)
        if weights is not None:
            load_state_file(network, weights, name, f"torchvision.models.{name}")
    else:
        enum_member = _enum_weights(name, entry, str(weights))
        network = getattr(models, entry.builder)(weights=enum_member)
        transform = enum_member.transforms()
        resize, crop = int(transform.resize_size[0]), int(transform.crop_size[0])
    return ImageNetClassifier(name, network, resize, crop).to(device).eval()
