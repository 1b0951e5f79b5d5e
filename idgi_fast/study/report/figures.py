"""The report's figures: scores against the step count, the saliency grid, the two paths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ...geometry import blur_sigmas, gaussian_blur
from ...reference.metrics.road import ROAD_PERCENTAGES
from ..drawing import curve_panels, grid_figure, heatmap, to_uint8_image, variant_colour
from ..inputs.recipes import ordered, recipe
from ..store.database import Store
from ..store.maps import input_path, map_path, maps_folder
from ..store.variants import VariantReader
from ..store.work import latest_source
from .summary import Summary, cells_of, summarise

FIGURE_METRICS = {
    "insertion/probability": "Insertion",
    "deletion/probability": "Deletion",
    "sic/entropy": "SIC, entropy",
    "aic/entropy": "AIC, entropy",
    "sic/msssim": "SIC, MS-SSIM",
    "aic/msssim": "AIC, MS-SSIM",
}


ROAD_FIGURE = {
    "road/morf/probability": "ROAD MoRF, probability",
    "road/lerf/probability": "ROAD LeRF, probability",
    "road/morf/accuracy": "ROAD MoRF, accuracy",
    "road/lerf/accuracy": "ROAD LeRF, accuracy",
}


def road_curves(store: Store, summary: Summary) -> Image.Image | None:
    """ROAD's mean MoRF and LeRF curves of every variant at the largest step count, against the
    fraction of pixels removed; None when the study has no ROAD score."""
    present = [metric for metric in ROAD_FIGURE if metric in summary.metrics]
    if not present:
        return None
    percentages = ((store.settings() or {}).get("metric_options") or {}).get("road_percentages")
    xs = np.array(percentages or ROAD_PERCENTAGES, dtype=np.float64) / 100.0
    count = max(key[3] for key in summary.cells)
    models = sorted({key[0] for key in summary.cells})
    reader, colours, panels = VariantReader(store), {}, []
    for metric in present:
        series = {}
        for (model, method, idgi, cell_count), steps in sorted(summary.cells.items()):
            curves = (
                reader.every_curve((model, method, steps, idgi, count), metric) if cell_count == count else []
            )
            if len(curves) and curves.shape[1] == xs.size:
                title = recipe(method).variant_title(idgi)
                name = title if len(models) == 1 else f"{model}: {title}"
                colours[name] = variant_colour(method, idgi)
                series[name] = (xs, curves.mean(axis=0))
        panels.append(
            {
                "title": f"{ROAD_FIGURE[metric]} (steps = {count})",
                "xlabel": "fraction removed",
                "ylabel": "mean",
                "series": series,
            }
        )
    return curve_panels(panels, colours, columns=2)


def scores_vs_steps(store: Store, summary: Summary | None = None) -> Image.Image | None:
    """Line charts of each score against the step count (log scale), one series per model and
    variant; None with fewer than two step counts."""
    cells = summary.cells if summary else cells_of(store)
    counts = sorted({key[3] for key in cells})
    if len(counts) < 2:
        return None
    models = sorted({key[0] for key in cells})
    methods = ordered(key[1] for key in cells)
    summary = summary or summarise(store, cells, claims=False)
    present = summary.metrics
    low, high = math.log2(counts[0]), math.log2(counts[-1])
    xs = np.array([(math.log2(n) - low) / (high - low) for n in counts])
    colours, panels = {}, []
    for metric, title in FIGURE_METRICS.items():
        if metric not in present:
            continue
        series = {}
        for model in models:
            for method in methods:
                for idgi in (0, 1):
                    name = (
                        recipe(method).variant_title(idgi)
                        if len(models) == 1
                        else f"{model}: {recipe(method).variant_title(idgi)}"
                    )
                    colours[name] = variant_colour(method, idgi)
                    ys = [summary.value(model, method, idgi, n, metric) for n in counts]
                    series[name] = (xs, np.array(ys))
        panels.append(
            {
                "title": title,
                "xlabel": "steps (log scale)",
                "ylabel": "score",
                "series": series,
                "xticks": [(float(x), str(n)) for x, n in zip(xs, counts)],
            }
        )
    return curve_panels(panels, colours) if panels else None


def saliency_grid(store: Store, db: Path, images: int = 6, cells: dict | None = None) -> Image.Image | None:
    """The first images' saliency maps (first model, largest step count of each method) beside
    their inputs, from the maps `idgi-fast run` wrote (the first few images' always, every
    image's with --save-maps); None without them."""
    maps = maps_folder(db)
    if not maps.is_dir():
        return None
    cells = cells if cells is not None else cells_of(store)
    model = sorted({key[0] for key in cells})[0]
    columns = []
    for method in ordered(key[1] for key in cells):
        for idgi in (0, 1):
            found = [key for key in cells if key[:3] == (model, method, idgi)]
            if found:
                key = max(found, key=lambda k: k[3])
                columns.append((recipe(method).variant_title(idgi), method, cells[key], idgi, key[3]))
    ids = [
        row[0]
        for row in store.connection.execute(
            "SELECT DISTINCT image FROM done WHERE model = ? ORDER BY image", (model,)
        )
    ]
    rows = []
    for image in ids:
        if len(rows) == images:
            break
        paths = [
            map_path(maps, model, method, steps, idgi, count, image)
            for _, method, steps, idgi, count in columns
        ]
        source = input_path(maps, model, image)
        if not source.exists() or not all(p.exists() for p in paths):
            continue
        with Image.open(source) as picture:
            row = [np.asarray(picture.convert("RGB"))]
        rows.append(row + [heatmap(torch.from_numpy(np.load(p))) for p in paths])
    if not rows:
        return None
    return grid_figure(rows, ["input"] + [title for title, *_ in columns])


def path_images(image: torch.Tensor, points: int = 8, max_sigma: float = 50.0) -> Image.Image:
    """One image along the IG path (zeros baseline → input) and the Blur IG path (G_max(x) → x),
    `points` evenly spaced points each (docs/semantics.md §3–§4 geometry)."""
    alphas = [k / (points - 1) for k in range(points)]
    sigmas = list(reversed(blur_sigmas(points - 1, max_sigma, sqrt=False)))
    ig_row = [to_uint8_image(image * alpha) for alpha in alphas]
    blur_row = [to_uint8_image(gaussian_blur(image[None].double(), sigma)[0]) for sigma in sigmas]
    titles = [
        f"alpha {alpha:.2f}, sigma {sigma:.3g}" for alpha, sigma in zip(alphas, sigmas)
    ]  # the font lacks Greek
    return grid_figure([ig_row, blur_row], titles, row_titles=["IG", "Blur IG"], cell=160)


def first_image(store: Store) -> torch.Tensor | None:
    """The study's first finished image, rebuilt from the latest run's configuration."""
    first = store.connection.execute("SELECT image, model FROM done ORDER BY image, model LIMIT 1").fetchone()
    found = latest_source(store)
    if first is None or isinstance(found, str):
        return None
    _, source = found
    if isinstance(source, int):  # the user's own data: its preview input, saved beside the database
        saved = input_path(maps_folder(store.path), first[1], first[0])
        return (
            torch.from_numpy(np.array(Image.open(saved).convert("RGB"))).permute(2, 0, 1) / 255
            if saved.is_file()
            else None
        )
    if first[0] not in source.ids:
        return None
    loaded = source.load([source.ids.index(first[0])], first[1])
    return loaded.images[0] if loaded.ids else None
