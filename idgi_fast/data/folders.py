"""Image folders as the study reads them: ImageNet validation in ImageFolder layout
(`root/<wnid>/<file>`) or flat (`root/<file>`) with a label file of `filename<TAB>wnid` lines,
plus a class list: a wnid list file (one per line; the line number is the class index), or the
classes of the models being explained. ImageNet-1k's list ships with the package
(imagenet_wnids.txt: the 1000 wnids sorted, which is ImageNet-1k's class-index order), so a
folder holding only some ImageNet classes still gets their true class indices.

Images are decoded with Pillow to RGB, resized so that the shorter side is `resize` (bilinear)
and centre-cropped to `crop` × `crop`, as torchvision's evaluation transforms do, and returned
as float32 in [0, 1]. A file that cannot be decoded is skipped and reported, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")


@dataclass(frozen=True)
class ImageRecord:
    id: str  # the path relative to the root, with forward slashes
    path: Path
    label: int


@dataclass
class LoadedImages:
    ids: list[str]
    images: torch.Tensor  # (N, 3, crop, crop) float32 in [0, 1]
    labels: torch.Tensor  # (N,) int64
    unreadable: dict[str, str] = field(default_factory=dict)  # id → why
    masks: torch.Tensor | None = None  # (N, H, W) bool object masks, when the data set has them


def imagenet_wnids() -> list[str]:
    """ImageNet-1k's 1000 wnids in class-index order (the packaged imagenet_wnids.txt)."""
    return read_wnids(Path(str(resources.files("idgi_fast.data").joinpath("imagenet_wnids.txt"))))


def read_wnids(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"wnid list {path} not found: it must hold one class id (e.g. n01440764) per line, "
            "in class-index order"
        )
    wnids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not wnids:
        raise ValueError(
            f"wnid list {path} is empty: it must hold one class id per line, in class-index order"
        )
    duplicates = sorted({w for w in wnids if wnids.count(w) > 1})
    if duplicates:
        raise ValueError(
            f"wnid list {path} names {duplicates} more than once; each class id must appear once"
        )
    return wnids


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def folder_records(
    root: str | Path,
    labels_file: str | Path | None = None,
    wnids_file: str | Path | None = None,
    classes: list[str] | None = None,
) -> list[ImageRecord]:
    """Every image under `root` with its class index, sorted by id.

    The class list, whose order gives the indices: `wnids_file` when given, else `classes`
    (the models' own, e.g. ImageNet-1k's wnids), else — ImageFolder layout only — the sorted
    folder names. A class folder or label that is not in the list is refused. Without
    `labels_file`: ImageFolder layout, class folders named by wnid; with it, a flat folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"image folder {root} not found; pass the ImageNet validation folder "
            "(class sub-folders, or flat files with --labels and --wnids)"
        )
    if wnids_file is not None:
        classes, source = read_wnids(wnids_file), f"the wnid list {wnids_file}"
    else:
        source = "the model's classes (ImageNet-1k's wnids for the zoo); pass --wnids for another list"
    if labels_file is None:
        folders = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not folders:
            raise ValueError(
                f"{root} has no class sub-folders; for a flat folder pass a label file "
                "(filename<TAB>wnid per line) and a wnid list"
            )
        if classes is None:
            classes, source = folders, "the sorted folder names"
        index = {w: i for i, w in enumerate(classes)}
        unknown = [f for f in folders if f not in index]
        if unknown:
            raise ValueError(
                f"class folders {unknown[:5]}{' and more' if len(unknown) > 5 else ''} of {root} are not in "
                f"{source}; each class folder must be named by its class id (e.g. n01440764)"
            )
        records = [
            ImageRecord(f"{folder}/{path.name}", path, index[folder])
            for folder in folders
            for path in sorted((root / folder).iterdir())
            if _is_image(path)
        ]
    else:
        if classes is None:
            raise ValueError(
                "a flat folder with a label file also needs the wnid list (one class id per line, "
                "in class-index order) to turn wnids into class indices"
            )
        index = {w: i for i, w in enumerate(classes)}
        labels_file = Path(labels_file)
        if not labels_file.is_file():
            raise FileNotFoundError(f"label file {labels_file} not found")
        records = []
        for number, line in enumerate(labels_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not parts[0] or not parts[1]:
                raise ValueError(f"{labels_file}, line {number}: expected 'filename<TAB>wnid', got {line!r}")
            name, wnid = parts[0].strip(), parts[1].strip()
            if wnid not in index:
                raise ValueError(f"{labels_file}, line {number}: wnid {wnid!r} is not in {source}")
            records.append(ImageRecord(name, root / name, index[wnid]))
    if not records:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {root}")
    return sorted(records, key=lambda r: r.id)


def resized_crop_window(width: int, height: int, resize: int, crop: int) -> tuple[tuple[int, int], int, int]:
    """Where an image of `width` × `height` goes: its resized (width, height), shorter side
    `resize`, and the centre crop's left and top in it."""
    scale = resize / min(width, height)
    size = (max(crop, round(width * scale)), max(crop, round(height * scale)))
    return size, (size[0] - crop) // 2, (size[1] - crop) // 2


def box_mask(box: tuple[float, float, float, float], image_size: tuple[int, int], resize: int, crop: int):
    """(crop, crop) bool: the pixels of the resized, centre-cropped image whose centres fall in
    `box` = (left, top, right, bottom) in the original image's pixels (right, bottom exclusive)."""
    (width, height), left, top = resized_crop_window(*image_size, resize, crop)
    scale_x, scale_y = width / image_size[0], height / image_size[1]
    centres = torch.arange(crop, dtype=torch.float64) + 0.5
    x, y = (centres + left) / scale_x, (centres + top) / scale_y
    inside_x = (x >= box[0]) & (x < box[2])
    inside_y = (y >= box[1]) & (y < box[3])
    return inside_y[:, None] & inside_x[None, :]


def load_image(path: Path, resize: int, crop: int, interpolation: str = "bilinear") -> torch.Tensor:
    """(3, crop, crop) float32 in [0, 1]: shorter side to `resize` (bilinear or bicubic), centre crop."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        size, left, top = resized_crop_window(*image.size, resize, crop)
        image = image.resize(size, Image.BICUBIC if interpolation == "bicubic" else Image.BILINEAR)
        image = image.crop((left, top, left + crop, top + crop))
        array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).to(torch.float32) / 255.0


def load_records(
    records: list[ImageRecord], resize: int, crop: int, interpolation: str = "bilinear"
) -> LoadedImages:
    """Decode every record; a file that is missing or cannot be decoded is left out and reported."""
    ids, images, labels, unreadable = [], [], [], {}
    for record in records:
        try:
            images.append(load_image(record.path, resize, crop, interpolation))
        except (OSError, UnidentifiedImageError, ValueError) as error:
            unreadable[record.id] = f"{type(error).__name__}: {error}"
            continue
        ids.append(record.id)
        labels.append(record.label)
    stacked = torch.stack(images) if images else torch.empty(0, 3, crop, crop)
    return LoadedImages(ids, stacked, torch.tensor(labels, dtype=torch.long), unreadable)
