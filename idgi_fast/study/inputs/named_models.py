"""The named models (models.MODEL_NAMES) and their images — the synthetic scenes or an image
folder — as `idgi-fast run` gives them to the study's loop (runner.execute)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ...data.folders import LoadedImages, folder_records, load_records, read_wnids
from ...data.photos import is_photos_folder, photo_masks
from ...data.scenes import SHAPE_CLASSES, generate_scenes
from ...metrics.request import check_evaluation_images
from ...metrics.stability import quantised
from ...models import EFFICIENTNET_LITE0, EMBEDDED_MODEL, ZOO, input_sizes, load_model, model_classes
from ...models.efficientnet_lite import weights_path as lite0_weights_path
from ...models.specs import is_spec, resolve_spec
from ...models.toy import weights_path
from ...models.weights import read_state_file
from ...models.zoo import DEFAULT_WEIGHTS, check_zoo_available, is_weights_file
from ...xrai import check_xrai_available
from .config import StudyConfig
from .recipes import recipe
from .subjects import Subject, parameter_digest

SCENE_SEED = 1  # the embedded model's held-out scenes (it was trained on seed 0)


class ImageSource:
    """The study's images by index: the synthetic scenes (held in memory) or an image folder
    (decoded batch by batch, so a 50 000-image folder never sits in memory)."""

    def __init__(self, config: StudyConfig, classes: list[str] | None = None):
        """`classes`: the class ids of a model given by import spec (None: the folder's names);
        a named model's are its own."""
        self.config = config
        self._scenes = None
        if config.data_root is None:
            self.ids = [f"scene-{SCENE_SEED}-{config.first_image + i:06d}" for i in range(config.images)]
        else:
            if not is_spec(config.models[0]):
                classes = model_classes(config.models[0])
            if config.wnids_file is not None and classes is not None:
                listed = read_wnids(config.wnids_file)
                if len(listed) != len(classes):
                    raise ValueError(
                        f"the wnid list {config.wnids_file} names {len(listed)} classes but "
                        f"{config.models[0]} has {len(classes)} outputs; give one class id per output, in "
                        "output order"
                    )
            records = folder_records(config.data_root, config.labels_file, config.wnids_file, classes)
            records = records[config.first_image :]
            self.records = records if config.images is None else records[: config.images]
            self.ids = [record.id for record in self.records]
        self.resize, self.crop = config.resize, config.crop

    @property
    def scenes(self) -> LoadedImages:
        """The synthetic scenes, generated on first use (listing the ids needs none)."""
        if self._scenes is None:
            config = self.config
            scenes = generate_scenes(config.images, seed=SCENE_SEED, start=config.first_image)
            # object masks only when scored: the default study's batches stay what they were
            masks = scenes.masks if "localization" in config.metrics else None
            self._scenes = LoadedImages(self.ids, quantised(scenes.images), scenes.labels, masks=masks)
        return self._scenes

    def identity(self) -> dict:
        return data_identity(self.config)

    def load(self, indices: list[int], model: torch.nn.Module | str | None = None) -> LoadedImages:
        """The images at `indices`; folder images get the config's sizes, else `model`'s own
        (a model or its name)."""
        if self.config.data_root is None:
            scenes = self.scenes
            masks = None if scenes.masks is None else scenes.masks[indices]
            return LoadedImages(
                [self.ids[i] for i in indices], scenes.images[indices], scenes.labels[indices], masks=masks
            )
        resize, crop = input_sizes(model)
        resize, crop = self.resize or resize, self.crop or crop
        interpolation = getattr(model, "interpolation", "bilinear")
        loaded = load_records([self.records[i] for i in indices], resize, crop, interpolation)
        if "localization" in self.config.metrics and is_photos_folder(self.config.data_root):
            loaded.masks = photo_masks(loaded.ids, resize, crop)  # our boxes (data/photos.py)
        return loaded


def check_models(config: StudyConfig) -> None:
    """Fail before any work if a model cannot be built (torchvision missing, a weights file
    absent or unreadable) or an XRAI method lacks scikit-image."""
    folder = config.data_root is not None and not is_photos_folder(config.data_root)
    if "localization" in config.metrics and folder:
        raise ValueError(
            "localization scores attributions against object masks, which an image folder does not have (the "
            "synthetic scenes and the embedded photos do); leave it out of --metrics, or give masks from a "
            "Dataset through idgi_fast.study.run (docs/own-model.md)"
        )
    regions = [m for m in config.methods if recipe(m).xrai]
    if regions:
        try:
            check_xrai_available()
        except ImportError as error:
            raise ValueError(f"{', '.join(regions)}: {error}") from None
    if any(m in ZOO for m in config.models):
        check_zoo_available()
    if EFFICIENTNET_LITE0 in config.models and config.weights.get(EFFICIENTNET_LITE0) is None:
        lite0_weights_path()  # the photos extra, named with its pip command, before any work
    for model, weights in config.weights.items():
        if model == EMBEDDED_MODEL and weights is not None and not is_weights_file(weights):
            raise ValueError(
                f"weights {weights!r} for {model}: it takes a weights file (a path such as ./scenenet.pt)"
            )
        if weights is not None and is_weights_file(weights):
            if not Path(weights).is_file():
                raise FileNotFoundError(f"weights file {weights} for {model} not found")
            read_state_file(weights)  # an unreadable file stops here, before the database is touched


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def weights_identity(model: str, weights) -> str:
    """What a model's weights are, for the study identity: a file by its content's hash, a
    torchvision name by itself, the defaults by what they resolve to."""
    if weights is None and model == EMBEDDED_MODEL:
        return file_digest(weights_path())
    if weights is None and model == EFFICIENTNET_LITE0:
        return file_digest(lite0_weights_path())
    if weights is None:
        return DEFAULT_WEIGHTS
    if is_weights_file(weights):
        return file_digest(weights)
    return str(weights)


def data_identity(config: StudyConfig) -> dict:
    """What the images are, for the study identity: the scenes' seed, or the folder, its label
    files' contents and the sizes its images get."""
    if config.data_root is None:
        return {"images": "synthetic scenes", "seed": SCENE_SEED}
    return {
        "folder": str(Path(config.data_root).resolve()),
        "labels": None if config.labels_file is None else file_digest(config.labels_file),
        "wnids": None if config.wnids_file is None else file_digest(config.wnids_file),
        "resize": config.resize,
        "crop": config.crop,
    }


def named_subjects(config: StudyConfig) -> tuple[list[Subject], list[str] | None]:
    """Each model of `config` as the study's loop takes it, and the class ids of the first when
    it is given by import spec. A named model is built when its turn comes; a spec's is built
    here (its weights' digest is its identity), so that a bad one stops before any work."""
    subjects, classes = [], None
    for position, name in enumerate(config.models):
        weights = config.weights.get(name)
        if not is_spec(name):
            build = lambda device, name=name, weights=weights: load_model(name, weights, device)  # noqa: E731
            subjects.append(
                Subject(
                    name,
                    _in_memory_format(build, config.channels_last),
                    weights_identity(name, weights),
                    "torchvision" if name in ZOO else None,
                )
            )
            continue
        resolved = resolve_spec(name, weights)
        identity = (
            f"{parameter_digest(resolved.model.model)} {json.dumps(resolved.preprocessing, sort_keys=True)}"
        )
        build = lambda device, m=resolved.model: m.to(device)  # noqa: E731
        subjects.append(
            Subject(name, _in_memory_format(build, config.channels_last), identity, resolved.package)
        )
        if position == 0:
            classes = resolved.classes
    return subjects, classes


def _in_memory_format(build, channels_last: bool):
    """`build` (device → model), its weights converted to channels-last when asked: the study's
    own instance of a named or spec model, never a model the user passed in."""
    if not channels_last:
        return build
    return lambda device: build(device).to(memory_format=torch.channels_last)


def check_spec_outputs(config: StudyConfig, subjects: list[Subject], source: ImageSource) -> None:
    """Each model given by import spec maps the first image to logits (1, classes) with a class
    for every label of the images; fails before the database is touched."""
    specs = [subject for subject in subjects if is_spec(subject.name)]
    if not specs:
        return
    if config.data_root is None:
        top, where = len(SHAPE_CLASSES) - 1, "the synthetic scenes' six classes"
    else:
        top, where = max(record.label for record in source.records), f"the classes of {config.data_root}"
    for subject in specs:
        model = subject.build(torch.device("cpu"))
        loaded = source.load([0], model)
        with torch.no_grad():
            output = model(loaded.images[:1])
        if output.dim() != 2 or output.shape[0] != 1:
            raise ValueError(
                f"--model {subject.name} returned shape {tuple(output.shape)} for 1 image; the study needs "
                "logits (B, classes)"
            )
        if config.metrics:
            check_evaluation_images(config.metrics, config.metric_options, loaded.images)
        if output.shape[1] <= top:
            raise ValueError(
                f"--model {subject.name} has {output.shape[1]} outputs, but the images' labels go up to "
                f"{top} ({where}); give a model with an output per class, or images of its classes (--data)"
            )
