"""PNG figures drawn with Pillow: image grids with saliency heatmaps."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..utils.atomic import atomic_write

# Each method's colour, light for the base method and dark for its IDGI variant.
METHOD_COLOURS = {
    "ig": ((158, 202, 225), (8, 81, 156)),
    "blur_ig": ((253, 174, 107), (217, 72, 1)),
    "guided_ig": ((161, 217, 155), (0, 109, 44)),
}


# Study methods beyond the three (noise tunnels, several baselines), by a hash of their name.
OTHER_COLOURS = (
    ((188, 189, 220), (84, 39, 143)),
    ((252, 146, 114), (165, 15, 21)),
    ((199, 233, 180), (35, 132, 67)),
    ((253, 208, 162), (140, 45, 4)),
    ((201, 148, 199), (152, 0, 67)),
    ((161, 218, 180), (37, 52, 148)),
    ((217, 217, 217), (82, 82, 82)),
    ((254, 227, 145), (153, 112, 0)),
)


def variant_colour(method: str, idgi: bool) -> tuple[int, int, int]:
    if method in METHOD_COLOURS:
        return METHOD_COLOURS[method][bool(idgi)]
    return OTHER_COLOURS[zlib.crc32(method.encode()) % len(OTHER_COLOURS)][bool(idgi)]


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
    """(3, H, W) or (1, H, W) in [0, 1] → (H, W, 3) uint8 (a grey image as its three equal channels)."""
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return (image.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _wrapped(title: str, font, width: int) -> list[str]:
    """The title in lines of whole words no wider than `width` (a single longer word stands alone)."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    lines: list[str] = []
    for word in title.split():
        if lines and measure.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def grid_figure(
    rows: list[list[np.ndarray]],
    column_titles: list[str],
    row_titles: list[str] | None = None,
    cell: int = 224,
    pad: int = 4,
    header: int = 28,
) -> Image.Image:
    """One row per image; every cell an (H, W, 3) uint8 array resized to `cell`; column titles
    wrap to the cell's width (the header grows to hold them)."""
    n_cols = len(column_titles)
    margin = 0 if row_titles is None else 90
    font = _font(16)
    titles = [_wrapped(title, font, cell - 8) for title in column_titles]
    line = 20
    header = max(header, max((len(lines) for lines in titles), default=1) * line + 8)
    figure = Image.new(
        "RGB", (margin + n_cols * (cell + pad) + pad, header + len(rows) * (cell + pad) + pad), "white"
    )
    draw = ImageDraw.Draw(figure)
    for c, lines in enumerate(titles):
        for k, text in enumerate(lines):
            draw.text(
                (
                    margin + pad + c * (cell + pad) + cell // 2,
                    header // 2 + (k - (len(lines) - 1) / 2) * line,
                ),
                text,
                fill="black",
                font=font,
                anchor="mm",
            )
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


def curve_panels(
    panels: list[dict],
    series_colours: dict[str, tuple[int, int, int]],
    columns: int = 3,
    panel_size: tuple[int, int] = (380, 300),
) -> Image.Image:
    """A grid of line charts on [0, 1] × [0, 1] with a shared legend underneath.

    panels: [{"title": str, "xlabel": str, "ylabel": str, "series": {name: (x, y) 1-D arrays}}], and
    optionally "xticks": [(position in [0, 1], label)] instead of 0, 0.25, …, 1.
    series_colours: the colour of each series name, in legend order.
    """
    width, height = panel_size
    left, right, top, bottom = 52, 14, 30, 42
    rows = (len(panels) + columns - 1) // columns
    legend_rows = (len(series_colours) + 2) // 3
    figure = Image.new("RGB", (columns * width, rows * height + 12 + 22 * legend_rows), "white")
    draw = ImageDraw.Draw(figure)
    font, small = _font(15), _font(12)
    for index, panel in enumerate(panels):
        x0, y0 = (index % columns) * width, (index // columns) * height
        plot = (x0 + left, y0 + top, x0 + width - right, y0 + height - bottom)

        def to_px(u, v, plot=plot):
            return plot[0] + u * (plot[2] - plot[0]), plot[3] - v * (plot[3] - plot[1])

        draw.text((x0 + width // 2, y0 + top // 2), panel["title"], fill="black", font=font, anchor="mm")
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            _, gy = to_px(0, tick)
            draw.line([(plot[0], gy), (plot[2], gy)], fill=(232, 232, 232))
            draw.text((plot[0] - 4, gy), f"{tick:g}", fill="black", font=small, anchor="rm")
        for position, label in panel.get("xticks", [(t, f"{t:g}") for t in (0.0, 0.25, 0.5, 0.75, 1.0)]):
            gx, _ = to_px(position, 0)
            draw.line([(gx, plot[1]), (gx, plot[3])], fill=(232, 232, 232))
            draw.text((gx, plot[3] + 4), label, fill="black", font=small, anchor="mt")
        draw.rectangle(plot, outline="black")
        draw.text(
            ((plot[0] + plot[2]) / 2, plot[3] + 22), panel["xlabel"], fill="black", font=small, anchor="mt"
        )
        draw.text((x0 + 4, y0 + top - 14), panel["ylabel"], fill="black", font=small, anchor="lm")
        for name, (xs, ys) in panel["series"].items():
            points = [to_px(float(u), float(v)) for u, v in zip(xs, ys) if np.isfinite(u) and np.isfinite(v)]
            if len(points) > 1:
                draw.line(points, fill=series_colours[name], width=2, joint="curve")
    legend_top = rows * height + 6
    for i, (name, colour) in enumerate(series_colours.items()):
        lx = 20 + (i // legend_rows) * (columns * width // 3)  # column-major: related series stack
        ly = legend_top + 22 * (i % legend_rows) + 8
        draw.line([(lx, ly), (lx + 28, ly)], fill=colour, width=3)
        draw.text((lx + 36, ly), name, fill="black", font=font, anchor="lm")
    return figure
