"""One batch of the study: its images filtered (decided), explained once (base and IDGI at
every step count), scored per variant and count, checked for JPEG stability, and the maps
saved; the rows the store writes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from ...api import explain
from ...data.folders import LoadedImages
from ...metrics import evaluate
from ...metrics.common import score_targets
from ...metrics.stability import result_stability
from ...saliency import saliency_map
from ...utils.atomic import atomic_write
from ...xrai import segment_masks, xrai
from ..drawing import save_png, to_uint8_image
from ..inputs.recipes import recipe
from ..store.database import ImageResult
from ..store.maps import input_path, map_path

# JPEG stability's per-image mean squared difference under each normalisation (docs/semantics.md §6):
# L1-normalised maps, and the IDGI study's signed-sum normalisation
STABILITY_METRICS = {"l1": "stability/mse", "sum": "stability/mse_sum"}
# what a study without metrics (attributions only) scores per variant and count
_NO_SCORES = SimpleNamespace(per_image={}, curves={}, skip_reasons={})


class Decision(NamedTuple):
    """Whether an image is studied for a model, as its database row: status "used",
    "misclassified" or "unreadable", and why when it is not used."""

    image: str
    label: int | None
    predicted: int | None
    probability: float | None
    status: str
    why: str


def filter_images(model, loaded: LoadedImages, decisions: dict, only_correct: bool, device) -> list[Decision]:
    """Decide every image of the batch not decided before (kept in `decisions`); returns the new
    decisions, rows for the database."""
    rows = [Decision(image, None, None, None, "unreadable", why) for image, why in loaded.unreadable.items()]
    undecided = [j for j, image in enumerate(loaded.ids) if image not in decisions]
    if undecided:
        images, labels = loaded.images[undecided].to(device), loaded.labels[undecided].to(device)
        probability, predicted = score_targets(model, images, labels, None)
        for j, p, c in zip(undecided, probability.tolist(), predicted.tolist()):
            label = int(loaded.labels[j])
            wrong = only_correct and c != label
            rows.append(
                Decision(
                    loaded.ids[j],
                    label,
                    c,
                    p,
                    "misclassified" if wrong else "used",
                    f"the model predicts class {c}" if wrong else "",
                )
            )
    decisions.update({row.image: row.status for row in rows})
    return rows


def _write_npy(path: str, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def _save_maps(
    maps: Path, model_name, method, steps, result, images, ids, counts, wanted: set | None
) -> None:
    for i, image in enumerate(ids):
        if wanted is not None and image not in wanted:
            continue
        target = input_path(maps, model_name, image)
        if not target.exists():
            save_png(Image.fromarray(to_uint8_image(images[i])), target)
        for idgi in (0, 1):
            for count in counts:
                saliency = saliency_map(result.attribution(idgi=bool(idgi), steps=count)[i : i + 1])[0]
                array = saliency.detach().to(torch.float32).cpu().numpy()
                atomic_write(
                    map_path(maps, model_name, method, steps, idgi, count, image),
                    lambda tmp, a=array: _write_npy(tmp, a),
                )


def explain_and_score(
    config,
    model,
    images,
    labels,
    method,
    steps,
    counts,
    ids,
    model_name=None,
    maps: Path | None = None,
    wanted: set | None = None,
    masks: torch.Tensor | None = None,
) -> list[ImageResult]:
    """One explain (base + IDGI, every count) and the metrics of each variant and count; an
    XRAI method scores (and saves, and checks the stability of) the region maps of each.
    `masks` (B, H, W): the images' object masks, for the localization metric."""
    chosen = recipe(method)

    def explain_batch(x: torch.Tensor):
        return explain(
            model,
            x,
            target=labels,
            steps=steps,
            idgi=True,
            compute_at=counts if chosen.spec.supports_compute_at else None,
            backend=config.backend,
            graphs=config.graphs,
            precision=config.precision,
            **chosen.explain_options(config.noise, ids, config.schedules),
        )

    def maps_of(found, x: torch.Tensor):
        return _xrai_maps(found, x) if chosen.xrai else found

    result = explain_batch(images)
    mapped = maps_of(result, images)
    if maps is not None:
        _save_maps(maps, model_name, method, steps, mapped, images, ids, counts, wanted)
    scored = {
        (idgi, count): _NO_SCORES
        if not config.metrics
        else evaluate(
            model,
            images,
            _scored_map(mapped.attribution(idgi=bool(idgi), steps=count), chosen.xrai),
            labels,
            config.metrics,
            backend=config.backend,
            graphs=config.graphs,
            precision=config.precision,
            show_progress=False,
            masks=masks,
            **config.metric_options,
        )
        for idgi in (0, 1)
        for count in counts
    }
    rows = _image_results(ids, scored, result)
    if config.stability:
        # for 8-bit images (quantised scenes, decoded files) the unperturbed maps are the ones above
        again = lambda x: maps_of(explain_batch(x), x)  # noqa: E731
        for (idgi, count), by_norm in result_stability(again, images, mapped, norms=("l1", "sum")).items():
            for norm, metric in STABILITY_METRICS.items():
                for row, value in zip(rows, by_norm[norm].mse.tolist()):
                    row.scores.append((int(idgi), count, metric, value))
    return rows


def _scored_map(attribution: torch.Tensor, regions: bool) -> torch.Tensor:
    """What evaluate scores: an attribution, or an XRAI region map (B, 1, H, W) as the saliency
    map it is (no channel reduction applies to it)."""
    return attribution[:, 0] if regions else attribution


def _xrai_maps(result, images: torch.Tensor):
    """The result with every attribution replaced by its XRAI region map, (B, 1, H, W) in the
    images' dtype (docs/extensions.md §10); each image segmented once for all of them."""
    segments = [segment_masks(image) for image in images]

    def regions(attribution: torch.Tensor) -> torch.Tensor:
        return xrai(images, attribution, segments=segments).maps[:, None].to(images.dtype)

    def mapped(found):
        if found is None:
            return None
        return {n: regions(a) for n, a in found.items()} if isinstance(found, dict) else regions(found)

    return replace(result, base=mapped(result.base), idgi=mapped(result.idgi))


def _image_results(ids: list[str], scored: dict, result) -> list[ImageResult]:
    """Rows of each image from the evaluations of one batch, keyed (idgi, count). With samples
    (noisy copies, several baselines) the completeness gap is the largest of the samples'."""
    rows = [ImageResult(image) for image in ids]
    for (idgi, count), evaluation in scored.items():
        if result.sample_sums is None:
            gaps = result.completeness_gap(idgi=bool(idgi), steps=count).cpu()
        else:
            gaps = result.sample_completeness_gap(idgi=bool(idgi), steps=count).amax(dim=1).cpu()
        for i, row in enumerate(rows):
            row.scores.append((idgi, count, "completeness_gap", float(gaps[i])))
            for metric, values in evaluation.per_image.items():
                row.scores.append((idgi, count, metric, float(values[i])))
            for curve, values in evaluation.curves.items():
                row.curves.append((idgi, count, curve, values[i].double().numpy()))
            for metric, reasons in evaluation.skip_reasons.items():
                row.skips.append((idgi, count, metric, reasons[i]))
    return rows
