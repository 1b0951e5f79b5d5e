"""The model-only floor: what explaining costs when path logic and accumulation cost nothing."""
from __future__ import annotations

import torch


def model_only_floor(model, images: torch.Tensor, labels: torch.Tensor, points_per_image: int) -> None:
    """Forward + backward of the explained probability over points_per_image batches of the images."""
    for _ in range(points_per_image):
        leaf = images.detach().requires_grad_(True)
        scores = torch.softmax(model(leaf), dim=1).gather(1, labels.view(-1, 1)).sum()
        torch.autograd.grad(scores, leaf)
