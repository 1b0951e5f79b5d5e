"""Reproducible training of the embedded SceneNet on the synthetic scenes.

`idgi-fast train-toy` runs this with the defaults below; the same seed, torch version and
CPU give the same weights. Held-out accuracy is measured on scenes of another seed.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data.scenes import generate_scenes
from ..utils.atomic import atomic_write, atomic_write_text
from ..utils.progress import progress
from .toy import CARD_FILE, SceneNet

TRAIN_SEED, HELD_OUT_SEED = 0, 1


@torch.no_grad()
def accuracy(model: SceneNet, images: torch.Tensor, labels: torch.Tensor, batch: int = 128) -> float:
    model.eval()
    correct = 0
    for start in range(0, len(labels), batch):
        correct += int(
            (model(images[start : start + batch]).argmax(1) == labels[start : start + batch]).sum()
        )
    return correct / len(labels)


def train_scenenet(
    out: Path,
    *,
    train_images: int = 9000,
    held_out_images: int = 1200,
    epochs: int = 12,
    batch: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    threads: int = 2,
) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    started = time.time()
    train = generate_scenes(train_images, seed=TRAIN_SEED)
    held_out = generate_scenes(held_out_images, seed=HELD_OUT_SEED)
    model = SceneNet()
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = (train_images + batch - 1) // batch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=epochs * steps_per_epoch)
    order_generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(train_images, generator=order_generator)
        flips = torch.rand(train_images, 2, generator=order_generator) < 0.5
        bar = progress(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{epochs}", unit="batch")
        for step in bar:
            idx = order[step * batch : (step + 1) * batch]
            images = train.images[idx]
            images = torch.where(flips[idx, 0].view(-1, 1, 1, 1), images.flip(3), images)
            images = torch.where(flips[idx, 1].view(-1, 1, 1, 1), images.flip(2), images)
            loss = F.cross_entropy(model(images), train.labels[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        print(
            f"epoch {epoch + 1}: held-out accuracy {accuracy(model, held_out.images, held_out.labels):.4f}",
            flush=True,
        )
    model.eval()
    card = {
        "command": "idgi-fast train-toy",
        "train": {
            "images": train_images,
            "seed": TRAIN_SEED,
            "epochs": epochs,
            "batch": batch,
            "lr": lr,
            "torch_seed": seed,
            "threads": threads,
        },
        "held_out": {
            "images": held_out_images,
            "seed": HELD_OUT_SEED,
            "accuracy": accuracy(model, held_out.images, held_out.labels),
        },
        "torch": torch.__version__,
        "machine": platform.machine(),
        "seconds": round(time.time() - started, 1),
    }
    state = model.state_dict()
    atomic_write(out, lambda tmp: torch.save(state, tmp))
    atomic_write_text(out.with_name(CARD_FILE), json.dumps(card, indent=2) + "\n")
    return card
