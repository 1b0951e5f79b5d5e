"""Data: the embedded synthetic scenes (ImageNet loading comes with the study runner)."""
from .scenes import SHAPE_CLASSES, SceneBatch, generate_scenes, render_scene

__all__ = ["SHAPE_CLASSES", "SceneBatch", "generate_scenes", "render_scene"]
