"""Where a study keeps the files beside its database: the saved saliency maps (`--save-maps`)
and the inputs they explain, one path per (model, method, steps, variant, count, image)."""

from __future__ import annotations

from pathlib import Path


def maps_folder(db: Path) -> Path:
    """Where saved saliency maps go: `<db folder>/<db stem>_maps/`."""
    return db.with_name(f"{db.stem}_maps")


def _component(name: str) -> str:
    """A model or image name as one path component (an import spec's path holds slashes)."""
    return name.replace("/", "__").replace("\\", "__")


def map_path(maps: Path, model: str, method: str, steps: int, idgi: int, count: int, image: str) -> Path:
    return (
        maps
        / _component(model)
        / method.replace(":", "__")
        / f"steps{steps}"
        / f"{'idgi' if idgi else 'base'}_n{count}"
        / f"{_component(image)}.npy"
    )


def input_path(maps: Path, model: str, image: str) -> Path:
    return maps / _component(model) / "inputs" / f"{_component(image)}.png"
