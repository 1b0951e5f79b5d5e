"""Models: the embedded SceneNet (the torchvision zoo comes with the study runner)."""
from .toy import SceneNet, load_scenenet

__all__ = ["SceneNet", "load_scenenet"]
