"""`idgi-fast demo`: the six methods on held-out synthetic scenes with the embedded model."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from .api import explain
from .atomic import atomic_write_text
from .data.scenes import SHAPE_CLASSES, generate_scenes
from .figures import grid_figure, heatmap, save_png, to_uint8_image
from .methods import METHODS
from .metrics import energy_in_mask, pointing_game
from .models.toy import load_scenenet, model_card
from .progress import progress
from .saliency import saliency_map
from .tables import markdown_table

DEMO_SEED = 1  # the held-out seed: the model never saw these scenes
TABLE_COLUMNS = ["method", "sum attr", "F(x)-F(x')", "abs gap", "rel gap", "energy-in-mask", "pointing game",
                 "evals/image", "seconds"]


def variant_title(method: str, idgi: bool) -> str:
    return METHODS[method].title + (" + IDGI" if idgi else "")


def run_demo(images: int = 6, steps: int = 128, methods=("ig", "blur_ig", "guided_ig"), out: str | Path = "idgi_demo",
             first_scene: int = 0, batch_size: int | None = None, backend: str = "reference",
             output: str = "probability") -> list[dict]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_scenenet()
    scenes = generate_scenes(images, seed=DEMO_SEED, start=first_scene)
    with torch.no_grad():
        predicted = model(scenes.images).argmax(1)
    card = model_card()
    print(f"model: embedded SceneNet, held-out accuracy {card['held_out']['accuracy']:.4f}; "
          f"{images} held-out scenes (seed {DEMO_SEED}), steps={steps}, output={output}, backend={backend}")
    for i, (label, guess) in enumerate(zip(scenes.labels.tolist(), predicted.tolist())):
        status = "" if label == guess else f"  (model predicts {SHAPE_CLASSES[guess]})"
        print(f"  scene {first_scene + i}: {SHAPE_CLASSES[label]}{status}")

    rows, maps, per_image = [], {}, {}
    for method in progress(methods, desc="methods", unit="method"):
        started = time.perf_counter()
        result = explain(model, scenes.images, target=scenes.labels, method=method, steps=steps, idgi=True,
                         output=output, batch_size=batch_size, backend=backend)
        seconds = time.perf_counter() - started
        delta = (result.outputs[:, -1] - result.outputs[:, 0]).double()
        for use_idgi in (False, True):
            title = variant_title(method, use_idgi)
            attribution = result.attribution(idgi=use_idgi)
            total = attribution.double().flatten(1).sum(dim=1)
            gap = (total - delta).abs()
            saliency = saliency_map(attribution)
            energy = energy_in_mask(saliency, scenes.masks)
            hits = pointing_game(saliency, scenes.masks)
            maps[title] = saliency
            per_image[title] = {"sum_attribution": total.tolist(), "output_difference": delta.tolist(),
                                "energy_in_mask": energy.tolist(), "pointing_game": hits.tolist()}
            rows.append({
                "method": title,
                "sum attr": float(total.mean()),
                "F(x)-F(x')": float(delta.mean()),
                "abs gap": float(gap.mean()),
                "rel gap": float((gap / delta.abs().clamp(min=1e-12)).mean()),
                "energy-in-mask": float(energy.mean()),
                "pointing game": float(hits.double().mean()),
                "evals/image": result.evaluations,
                "seconds": round(seconds, 2),
            })

    titles = list(maps)
    figure = grid_figure(
        [[to_uint8_image(scenes.images[i])] + [heatmap(maps[t][i]) for t in titles] for i in range(images)],
        ["input"] + titles,
        row_titles=[SHAPE_CLASSES[label] for label in scenes.labels.tolist()],
    )
    figure_path = save_png(figure, out / "demo_saliency.png")
    table = markdown_table(rows, TABLE_COLUMNS)
    atomic_write_text(out / "demo_table.md", table + "\n")
    atomic_write_text(out / "demo_results.json", json.dumps(
        {"steps": steps, "output": output, "backend": backend, "scenes": list(range(first_scene, first_scene + images)),
         "labels": scenes.labels.tolist(), "predicted": predicted.tolist(), "rows": rows, "per_image": per_image},
        indent=2) + "\n")
    print()
    print(table)
    print(f"\n'seconds' is the time of the one run that gives both a method and its IDGI variant.")
    print(f"figure: {figure_path}\ntable: {out / 'demo_table.md'}\nper-image values: {out / 'demo_results.json'}")
    return rows
