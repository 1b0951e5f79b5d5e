"""PNG figures drawn with Pillow: image grids with saliency heatmaps."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .atomic import atomic_write

# A perceptually ordered dark → bright ramp (black, purple, red, orange, pale yellow).
_RAMP = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64)


def heatmap(saliency: torch.Tensor, percentile: float = 99.5) -> np.ndarray:
    """(H, W) map → (H, W, 3) uint8: magnitudes scaled by their `percentile`, clipped, coloured."""
    magnitude = saliency.detach().abs().double().cpu().numpy()
    scale = np.percentile(magnitude, percentile)
    level = np.clip(magnitude / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(magnitude)
    position = level * (len(_RAMP) - 1)
    low = np.floor(position).astype(int).clip(0, len(_RAMP) - 2)
    frac = (position - low)[..., None]
    colours = _RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac
    return colours.round().astype(np.uint8)


def to_uint8_image(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] → (H, W, 3) uint8."""
    return (image.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def grid_figure(rows: list[list[np.ndarray]], column_titles: list[str], row_titles: list[str] | None = None,
                cell: int = 224, pad: int = 4, header: int = 28) -> Image.Image:
    """One row per image; every cell an (H, W, 3) uint8 array resized to `cell`."""
    n_cols = len(column_titles)
    margin = 0 if row_titles is None else 90
    figure = Image.new("RGB", (margin + n_cols * (cell + pad) + pad, header + len(rows) * (cell + pad) + pad), "white")
    draw = ImageDraw.Draw(figure)
    font = _font(16)
    for c, title in enumerate(column_titles):
        draw.text((margin + pad + c * (cell + pad) + cell // 2, header // 2), title, fill="black", font=font, anchor="mm")
    for r, cells in enumerate(rows):
        top = header + pad + r * (cell + pad)
        if row_titles is not None:
            draw.text((margin // 2, top + cell // 2), row_titles[r], fill="black", font=font, anchor="mm")
        for c, array in enumerate(cells):
            tile = Image.fromarray(array).resize((cell, cell), Image.NEAREST)
            figure.paste(tile, (margin + pad + c * (cell + pad), top))
    return figure


def save_png(figure: Image.Image, path: Path) -> Path:
    return atomic_write(path, lambda tmp: figure.save(tmp, format="PNG"))
