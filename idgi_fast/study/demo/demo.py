"""`idgi-fast demo`: the six methods on the embedded photos through EfficientNet-Lite0 (or on
held-out synthetic scenes through SceneNet), scored by every metric of docs/semantics.md §6."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ...api import explain
from ...methods import METHOD_NAMES, variant_title
from ...metrics import evaluate
from ...metrics.stability import result_stability
from ...saliency import saliency_map
from ...utils.atomic import atomic_write_text
from ...utils.progress import progress
from ...utils.serialize import write_json
from ...utils.tables import markdown_table
from ..drawing import curve_panels, grid_figure, heatmap, save_png, to_uint8_image, variant_colour
from .images import DEFAULT_STEPS, DemoImages, demo_images, predicted_name

ATTRIBUTION_COLUMNS = ["method", "sum attr", "F(x)-F(x')", "abs gap", "rel gap", "evals/image", "seconds"]
METRIC_COLUMNS = [
    "method",
    "Ins prob",
    "Ins ratio",
    "Del prob",
    "SIC entropy",
    "AIC entropy",
    "SIC MS-SSIM",
    "AIC MS-SSIM",
    "energy-in-mask",
    "pointing game",
    "JPEG stability L1",
    "JPEG stability sum",
]
METRIC_KEYS = {
    "Ins prob": "insertion/probability",
    "Ins ratio": "insertion/probability_ratio",
    "Del prob": "deletion/probability",
    "SIC entropy": "sic/entropy",
    "AIC entropy": "aic/entropy",
    "SIC MS-SSIM": "sic/msssim",
    "AIC MS-SSIM": "aic/msssim",
    "energy-in-mask": "energy_in_mask",
    "pointing game": "pointing_game",
}
CURVE_PANELS = [
    ("insertion", "Insertion", "fraction of pixels inserted", "p(target)"),
    ("deletion", "Deletion", "fraction of pixels deleted", "p(target)"),
    ("sic/entropy", "SIC, entropy axis", "normalised compressed size", "normalised p"),
    ("aic/entropy", "AIC, entropy axis", "normalised compressed size", "accuracy"),
    ("sic/msssim", "SIC, MS-SSIM axis", "MS-SSIM to the input", "normalised p"),
    ("aic/msssim", "AIC, MS-SSIM axis", "MS-SSIM to the input", "accuracy"),
]


def _unit_grid(curve: torch.Tensor):
    """x of a curve sampled uniformly on [0, 1] (insertion levels k/K, SIC/AIC grid points)."""
    return torch.linspace(0.0, 1.0, curve.shape[0], dtype=torch.float64).numpy()


@dataclass
class _Collected:
    """What the demo gathers over the methods, keyed by variant title where per variant."""

    attribution_rows: list = field(default_factory=list)
    metric_rows: list = field(default_factory=list)
    maps: dict = field(default_factory=dict)
    per_image: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    colours: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)


def run_demo(
    images: int | None = None,
    steps: int | None = None,
    methods=METHOD_NAMES,
    out: str | Path = "idgi_demo",
    first_scene: int = 0,
    batch_size: int | None = None,
    backend: str = "auto",
    output: str = "probability",
    insertion_canvas: str = "blur",
    pic_profile: str = "blur",
    webp_method: int = 0,
    data: str = "auto",
) -> dict:
    """`data`: "photos" (EfficientNet-Lite0, every labelled photo unless `images` says fewer, 32
    steps unless `steps` says), "scenes" (SceneNet, 6 scenes, 128 steps) or "auto" (photos where
    the photos extra is installed)."""
    demo = demo_images(data, images, first_scene)
    steps = steps or DEFAULT_STEPS[demo.kind]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, inputs = demo.model, demo.inputs
    with torch.no_grad():
        predicted = model(inputs).argmax(1)
    _print_setting(demo, predicted, steps, output, backend, insertion_canvas, pic_profile, webp_method)
    collected = _Collected()
    explain_options = dict(
        target=demo.labels, steps=steps, idgi=True, output=output, batch_size=batch_size, backend=backend
    )
    metric_options = dict(
        insertion_canvas=insertion_canvas,
        pic_profile=pic_profile,
        webp_method=webp_method,
        batch_size=batch_size,
        backend=backend,
    )
    for method in progress(methods, desc="methods", unit="method"):
        _run_method(collected, demo, method, explain_options, metric_options)
    figure_path, curves_path = _write_figures(out, demo, collected)
    summary = {
        "data": demo.kind,
        "steps": steps,
        "output": output,
        "backend": backend,
        "insertion_canvas": insertion_canvas,
        "pic_profile": pic_profile,
        "webp_method": webp_method,
        "images": demo.ids,
        "labels": demo.labels.tolist(),
        "predicted": predicted.tolist(),
        "attribution_rows": collected.attribution_rows,
        "metric_rows": collected.metric_rows,
        "skipped": collected.skipped,
        "per_image": collected.per_image,
        "aggregate_curves": {t: {k: v.tolist() for k, v in c.items()} for t, c in collected.curves.items()},
    }
    _write_tables(out, collected, len(demo.ids))
    write_json(out / "demo_results.json", summary)
    print(
        f"\nmaps: {figure_path}\ncurves: {curves_path}\ntables: {out / 'demo_table.md'}\n"
        f"per-image values: {out / 'demo_results.json'}"
    )
    return summary


def _print_setting(
    demo: DemoImages, predicted, steps, output, backend, insertion_canvas, pic_profile, webp_method
):
    print(f"model: {demo.about}; steps={steps}, output={output}, backend={backend}")
    print(
        f"metrics: insertion/deletion on a {insertion_canvas} canvas (K=20); SIC/AIC with the {pic_profile} "
        f"profile (L=25), entropy = lossless WebP q100 size (method {webp_method}), MS-SSIM raw; "
        "JPEG stability at quality 75, L1- and sum-normalised maps"
    )
    for name, title, label, guess in zip(demo.ids, demo.titles, demo.labels.tolist(), predicted.tolist()):
        status = "" if label == guess else f"  (model predicts {predicted_name(demo, guess)})"
        print(f"  {name}: {title}{status}")


def _run_method(collected: _Collected, demo: DemoImages, method, explain_options, metric_options) -> None:
    """One explain run of `method` (base and IDGI together), both variants scored."""
    model, inputs = demo.model, demo.inputs
    options = dict(explain_options, method=method)
    started = time.perf_counter()
    result = explain(model, inputs, **options)
    seconds = time.perf_counter() - started
    stability = result_stability(
        lambda x, o=options: explain(model, x, **o), inputs, result, norms=("l1", "sum")
    )
    delta = result.output_change()
    for use_idgi in (False, True):
        title = variant_title(method, use_idgi)
        collected.colours[title] = variant_colour(method, use_idgi)
        attribution = result.attribution(idgi=use_idgi)
        total = attribution.double().flatten(1).sum(dim=1)
        gap = result.completeness_gap(idgi=use_idgi)
        scores = evaluate(
            model,
            inputs,
            attribution,
            demo.labels,
            metrics=["insertion", "deletion", "sic", "aic", "localization"],
            masks=demo.masks,
            **metric_options,
        )
        stable = stability[(use_idgi, options["steps"])]
        collected.maps[title] = saliency_map(attribution)
        collected.curves[title] = scores.aggregate_curves
        collected.skipped = scores.skipped  # the skip rules see the input and the canvas only, not the map
        collected.per_image[title] = {
            "sum_attribution": total.tolist(),
            "output_difference": delta.tolist(),
            **{key: values.tolist() for key, values in scores.per_image.items()},
            "jpeg_stability": stable["l1"].per_image.tolist(),
            "jpeg_stability_sum": stable["sum"].per_image.tolist(),
        }
        collected.attribution_rows.append(
            {
                "method": title,
                "sum attr": float(total.mean()),
                "F(x)-F(x')": float(delta.mean()),
                "abs gap": float(gap.mean()),
                "rel gap": float((gap / delta.abs().clamp(min=1e-12)).mean()),
                "evals/image": result.evaluations,
                "seconds": round(seconds, 2),
            }
        )
        collected.metric_rows.append(
            {
                "method": title,
                **{column: scores.aggregate[key] for column, key in METRIC_KEYS.items()},
                "JPEG stability L1": stable["l1"].score,
                "JPEG stability sum": stable["sum"].score,
            }
        )


def _write_figures(out: Path, demo: DemoImages, collected: _Collected) -> tuple[Path, Path]:
    titles, maps, curves, inputs = list(collected.maps), collected.maps, collected.curves, demo.inputs
    figure = grid_figure(
        [[to_uint8_image(inputs[i])] + [heatmap(maps[t][i]) for t in titles] for i in range(len(inputs))],
        ["input"] + titles,
        row_titles=demo.titles,
    )
    figure_path = save_png(figure, out / "demo_saliency.png")
    panels = [
        {
            "title": heading,
            "xlabel": xlabel,
            "ylabel": ylabel,
            "series": {t: (_unit_grid(curves[t][key]), curves[t][key].numpy()) for t in titles},
        }
        for key, heading, xlabel, ylabel in CURVE_PANELS
    ]
    curves_path = save_png(curve_panels(panels, collected.colours), out / "demo_curves.png")
    return figure_path, curves_path


def _write_tables(out: Path, collected: _Collected, images: int) -> None:
    attribution_table = markdown_table(collected.attribution_rows, ATTRIBUTION_COLUMNS)
    metric_table = markdown_table(collected.metric_rows, METRIC_COLUMNS)
    skip_lines = [
        f"{key}: {counts['images']} of {images} images skipped"
        + "".join(f", {reason} {n}" for reason, n in counts.items() if reason != "images" and n)
        for key, counts in collected.skipped.items()
    ]
    skips = "\n".join(f"- {line}" for line in skip_lines)
    atomic_write_text(out / "demo_table.md", f"{attribution_table}\n\n{metric_table}\n\n{skips}\n")
    print()
    print(attribution_table)
    print("\n'seconds' is the time of the one run that gives both a method and its IDGI variant.\n")
    print(metric_table)
    print("\nSIC/AIC skip rules (docs/semantics.md §6): " + "; ".join(skip_lines))
