"""A user's own images as the study's loop takes them (`UserData`): a map-style `Dataset`, a
`DataLoader` (its dataset, read with its worker count) or tensors, each item `(image, label)` or
a dict with `image`, `label` and optional `mask` and `id`.

Every image has a stable id: the user's (`ids=`, or each item's `id`) or its index in the data
set. Resume and sharding go by these ids, and the data set's identity in the database is its
number of items, its ids and the contents of a few probe items (docs/study.md, "Your own model
and data"): a changed data set is refused as other settings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

from ...data.folders import LoadedImages

PROBES = 8  # items whose contents enter the data set's identity, evenly spaced from first to last


class _TensorItems(Dataset):
    """Batched tensors as a data set of items: (images, labels[, masks]) or a dict of them."""

    def __init__(self, data):
        if isinstance(data, dict):
            columns = {key: data[key] for key in ("image", "label", "mask", "id") if key in data}
        else:
            columns = dict(zip(("image", "label", "mask"), data))
        if "image" not in columns or "label" not in columns:
            raise ValueError(
                "data as tensors must be (images, labels), (images, labels, masks) or a dict with 'image' "
                "and 'label' (and optional 'mask', 'id')"
            )
        lengths = {key: len(value) for key, value in columns.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"data: the tensors hold different numbers of items: {lengths}")
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns["image"])

    def __getitem__(self, index: int) -> dict:
        return {key: value[index] for key, value in self.columns.items()}


def _as_dataset(data) -> tuple[Dataset, int]:
    """(map-style data set, DataLoader workers to read it with) from what the user gave."""
    if isinstance(data, DataLoader):
        return _as_dataset(data.dataset)[0], data.num_workers
    if isinstance(data, IterableDataset):
        raise TypeError(
            "data is an IterableDataset, which cannot be read by index; resume and sharding need "
            "a map-style Dataset (with __getitem__ and __len__)"
        )
    if isinstance(data, (tuple, list, dict)) and not isinstance(data, Dataset):
        return _TensorItems(data), 0
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return data, 0
    raise TypeError(
        f"data must be a Dataset, a DataLoader or tensors (images, labels); got {type(data).__name__}"
    )


def _image(value, where: str) -> torch.Tensor:
    if isinstance(value, Image.Image):
        value = torch.from_numpy(np.asarray(value.convert("RGB")).copy()).permute(2, 0, 1)
    elif isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor) or value.dim() != 3:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(
            f"{where}: the image must be a (channels, height, width) tensor or a PIL image; got {shape}"
        )
    if value.dtype == torch.uint8:
        return value.float() / 255
    if not value.is_floating_point():
        raise ValueError(f"{where}: the image is {value.dtype}; give float in [0, 1] or uint8")
    return value


def _label(value, where: str) -> int:
    if (
        isinstance(value, (torch.Tensor, np.ndarray))
        and value.ndim == 0
        or getattr(value, "shape", None) == (1,)
    ):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where}: the label must be a class index (an int); got {value!r}")
    return int(value)


def read_item(raw, where: str) -> tuple[torch.Tensor, int, torch.Tensor | None, str | None]:
    """(image (C, H, W) float, label, mask (H, W) or None, id or None) of one data set item."""
    if isinstance(raw, dict):
        if "image" not in raw or "label" not in raw:
            raise ValueError(f"{where}: a dict item needs 'image' and 'label' (and optionally 'mask', 'id')")
        image, label, mask, given = raw["image"], raw["label"], raw.get("mask"), raw.get("id")
    elif isinstance(raw, (tuple, list)) and len(raw) == 2:
        (image, label), mask, given = raw, None, None
    else:
        raise ValueError(
            f"{where}: an item must be (image, label) or a dict with 'image', 'label' and optional 'mask', "
            f"'id'; got {type(raw).__name__}" + (f" of {len(raw)}" if isinstance(raw, (tuple, list)) else "")
        )
    image = _image(image, where)
    if mask is not None:
        mask = torch.as_tensor(mask)
        mask = mask[0] if mask.dim() == 3 and mask.shape[0] == 1 else mask
        if tuple(mask.shape) != tuple(image.shape[1:]):
            raise ValueError(f"{where}: the mask is {tuple(mask.shape)}, the image {tuple(image.shape[1:])}")
    return image, _label(label, where), mask, None if given is None else str(given)


class UserData:
    """A user's data set by index (`ids`, `load`), with the identity the study records."""

    def __init__(self, data, ids: Sequence | None = None, dtype: torch.dtype = torch.float32):
        self.dataset, self.workers = _as_dataset(data)
        self.classes: int | None = None  # the model's outputs, once known: labels must index them
        self.normalized = False  # whether the model normalises (images must be in [0, 1] anyway)
        self.size = len(self.dataset)
        if self.size == 0:
            raise ValueError("data is empty: give at least one item")
        self.dtype = dtype
        self.ids = self._ids(ids)
        repeated = (
            sorted({i for i in self.ids if self.ids.count(i) > 1}) if len(set(self.ids)) < self.size else []
        )
        if repeated:
            raise ValueError(
                f"data: ids must be unique, but {repeated[:5]} repeat; give each item its own id"
            )
        self.probes = sorted({round(k * (self.size - 1) / max(1, PROBES - 1)) for k in range(PROBES)})

    def _ids(self, ids: Sequence | None) -> list[str]:
        if ids is not None:
            ids = [str(i) for i in ids]
            if len(ids) != self.size:
                raise ValueError(f"ids: {len(ids)} given for {self.size} items; give one per item")
            return ids
        first = read_item(self.dataset[0], "data item 0")
        if first[3] is None:
            return [str(i) for i in range(self.size)]
        return [item[3] for item in self._read(range(self.size))]  # one pass over the items for their ids

    def _read(self, indices) -> list[tuple]:
        indices = list(indices)
        if self.workers:
            loader = DataLoader(Subset(self.dataset, indices), batch_size=None, num_workers=self.workers)
            raw = list(loader)
        else:
            raw = [self.dataset[i] for i in indices]
        return [read_item(item, f"data item {i}") for i, item in zip(indices, raw)]

    def identity(self) -> dict:
        """The data set's identity: its type, number of items, ids and probe items' contents."""
        probe = hashlib.sha256()
        for image, label, mask, _ in self._read(self.probes):
            probe.update(f"{tuple(image.shape)}|{label}|".encode())
            probe.update(image.to(torch.float32).contiguous().numpy().tobytes())
            if mask is not None:
                probe.update(mask.to(torch.float32).contiguous().numpy().tobytes())
        kind = type(self.dataset)
        return {
            "dataset": f"{kind.__module__}.{kind.__qualname__}",
            "items": self.size,
            "ids": hashlib.sha256("\n".join(self.ids).encode()).hexdigest(),
            "probe": probe.hexdigest(),
        }

    def load(self, indices: list[int], model=None) -> LoadedImages:
        """The items at `indices`, checked (one size, values in [0, 1]), images in `dtype`."""
        items = self._read(indices)
        shapes = {tuple(item[0].shape) for item in items}
        if len(shapes) > 1:
            raise ValueError(
                f"data items {[self.ids[i] for i in indices]} have mixed sizes {sorted(shapes)}: give images "
                "of one size (resize and crop them in the Dataset)"
            )
        images = torch.stack([item[0] for item in items]).to(self.dtype)
        self._check_values(images, [item[1] for item in items], [self.ids[i] for i in indices])
        masks = [item[2] for item in items]
        loaded = LoadedImages(
            [self.ids[i] for i in indices],
            images,
            torch.tensor([item[1] for item in items], dtype=torch.int64),
        )
        if any(mask is not None for mask in masks):
            if any(mask is None for mask in masks):
                raise ValueError(
                    "data: some items have a 'mask' and some do not; give one for every item or none"
                )
            loaded.masks = torch.stack(masks).bool()
        return loaded

    def _check_values(self, images: torch.Tensor, labels: list[int], ids: list[str]) -> None:
        outside = [ids[j] for j in range(len(ids)) if not bool(((images[j] >= 0) & (images[j] <= 1)).all())]
        if outside:
            hint = (
                "the study's models take images in [0, 1] and normalise inside (normalize=(mean, std) does "
                "that for yours): drop the normalisation from the Dataset's transform"
                if not self.normalized
                else "the Dataset must give images in [0, 1]; the model normalises them (normalize=)"
            )
            raise ValueError(
                f"data items {outside[:5]} have values outside [0, 1] (from {float(images.min()):.3g} to "
                f"{float(images.max()):.3g}); {hint}"
            )
        if self.classes is not None:
            wrong = [(i, label) for i, label in zip(ids, labels) if not 0 <= label < self.classes]
            if wrong:
                raise ValueError(
                    f"data items (id, label) {wrong[:5]} have labels outside the model's {self.classes} "
                    f"outputs (0 … {self.classes - 1}); give labels as class indices of the model's output"
                )
