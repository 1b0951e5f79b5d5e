"""The model-only floor: what explaining costs when path logic and accumulation cost nothing."""

from __future__ import annotations

import torch

from idgi_fast.runtime.graphs import StaticCall
from idgi_fast.runtime.precision import full_float32


def model_only_floor(
    model, images: torch.Tensor, labels: torch.Tensor, points_per_image: int, chunk: int | None = None
) -> None:
    """Forward + backward of the explained probability over points_per_image copies of every image,
    `chunk` points per model call (default: the images, one point each per call).

    TF32 is off, as it is inside explain(): with torch's default TF32 convolutions the floor
    would run on different, faster arithmetic than the attributions it bounds.
    """
    total = images.shape[0] * points_per_image
    chunk = chunk or images.shape[0]
    index = torch.arange(total, device=images.device) % images.shape[0]
    with full_float32():
        for start in range(0, total, chunk):
            rows = index[start : start + chunk]
            leaf = images[rows].detach().requires_grad_(True)
            scores = torch.softmax(model(leaf), dim=1).gather(1, labels[rows].view(-1, 1)).sum()
            torch.autograd.grad(scores, leaf)


def graphed_floor(model, images: torch.Tensor, labels: torch.Tensor, points_per_image: int, chunk: int):
    """model_only_floor with its chunk captured once as a CUDA graph (idgi_fast.runtime.graphs.StaticCall)
    and replayed for every chunk (the last one padded to the chunk): a callable running the whole
    floor. Launch overhead is what this floor leaves out and the eager floor keeps."""
    total = images.shape[0] * points_per_image
    index = torch.arange(total, device=images.device) % images.shape[0]
    static_rows = index[:chunk].clone()

    def body():
        with full_float32():
            leaf = images[static_rows].detach().requires_grad_(True)
            scores = torch.softmax(model(leaf), dim=1).gather(1, labels[static_rows].view(-1, 1)).sum()
            return torch.autograd.grad(scores, leaf)

    call = StaticCall(body, capture=True, what="the floor's chunk")

    def run():
        for start in range(0, total, chunk):
            rows = index[start : start + chunk]
            static_rows[: len(rows)].copy_(rows)
            call()

    return run


def scoring_floor(model, images: torch.Tensor, labels: torch.Tensor, per_image: int, batch: int) -> None:
    """The metrics' floor: softmax probabilities of per_image copies of every image (no
    compositing, encoding or MS-SSIM), `batch` images per model call, TF32 off as in evaluate()."""
    index = torch.arange(images.shape[0], device=images.device).repeat_interleave(per_image)
    with torch.no_grad(), full_float32():
        for start in range(0, index.numel(), batch):
            rows = index[start : start + batch]
            logits = model(images[rows])
            torch.softmax(logits.to(torch.float64), dim=1).gather(1, labels[rows, None])
