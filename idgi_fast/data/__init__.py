"""Data: the embedded synthetic scenes (stacked or as a dataset) and image folders (ImageNet layouts)."""

from .folders import LoadedImages, folder_records, imagenet_wnids, load_image, load_records, read_wnids
from .scenes import SHAPE_CLASSES, SceneBatch, SceneDataset, generate_scenes, render_scene

__all__ = [
    "SHAPE_CLASSES",
    "LoadedImages",
    "SceneBatch",
    "SceneDataset",
    "folder_records",
    "generate_scenes",
    "imagenet_wnids",
    "load_image",
    "load_records",
    "read_wnids",
    "render_scene",
]
