"""The embedded photos: eight real photographs that ship with the package (data/photo_files/),
seven of them labelled with the ImageNet-1k class they show. Sources, authors and licences are in
photo_files/photos.json and docs/photos.md: six come from scikit-image's sample images (CC0 or
public domain) and two from scikit-learn's (CC BY 2.0); bench/tools/embed_photos.py wrote them. Each
labelled photo has our box around the object its label names (photos.json), which becomes its
object mask for the localization metric.

They are a flat image folder with a label file (labels.tsv), so the study reads them as it reads
any (`--data photos`), and `load_photos` gives them to Python as the ImageNet classifiers see
them: the shorter side resized (bicubic, as EfficientNet-Lite0's weights were scored), then a
centre crop.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
from PIL import Image

from .folders import ImageRecord, LoadedImages, box_mask, folder_records, imagenet_wnids, load_records

PHOTOS = "photos"  # the name `--data` takes for them


def photos_folder() -> Path:
    """The folder of the embedded photos (a flat folder; its labels are labels_file())."""
    return Path(str(resources.files("idgi_fast.data").joinpath("photo_files")))


def labels_file() -> Path:
    return photos_folder() / "labels.tsv"


def photo_sources() -> list[dict]:
    """Per photo: file, wnid (None where ImageNet-1k has no class for it), imagenet_class, author,
    licence, the package it was published in, and box: our (left, top, right, bottom) around the
    labelled object in the file's pixels (None for the unlabelled)."""
    return json.loads((photos_folder() / "photos.json").read_text())


def is_photos_folder(root) -> bool:
    return root is not None and Path(root).resolve() == photos_folder().resolve()


def photo_masks(ids: list[str], resize: int, crop: int) -> torch.Tensor | None:
    """(N, crop, crop) bool object masks of the photos `ids` (file names) as load_photos crops
    them; None if one of them has no box."""
    boxes = {entry["file"]: entry.get("box") for entry in photo_sources()}
    if not ids or any(boxes.get(name) is None for name in ids):
        return None
    masks = []
    for name in ids:
        with Image.open(photos_folder() / name) as image:
            masks.append(box_mask(boxes[name], image.size, resize, crop))
    return torch.stack(masks)


def load_photos(
    resize: int = 256, crop: int = 224, interpolation: str = "bicubic", labelled_only: bool = True
) -> LoadedImages:
    """The photos as (N, 3, crop, crop) float32 in [0, 1] with their ImageNet-1k class indices
    and object masks (our boxes), sorted by file name; with `labelled_only=False` the unlabelled
    ones too, labelled −1 (and no masks: they have no box)."""
    records = folder_records(photos_folder(), labels_file(), classes=imagenet_wnids())
    loaded = load_records(records, resize, crop, interpolation)
    if labelled_only:
        loaded.masks = photo_masks(loaded.ids, resize, crop)
        return loaded
    labelled = {record.id for record in records}
    rest = [
        ImageRecord(entry["file"], photos_folder() / entry["file"], -1)
        for entry in photo_sources()
        if entry["file"] not in labelled
    ]
    extra = load_records(rest, resize, crop, interpolation)
    return LoadedImages(
        loaded.ids + extra.ids,
        torch.cat([loaded.images, extra.images]),
        torch.cat([loaded.labels, extra.labels]),
        {**loaded.unreadable, **extra.unreadable},
    )
