"""A study database of the paper preset's shape, written without running any model: the zoo's
models, IG / Blur IG / Guided IG ± IDGI at 8, 16, 32, 64 and 128 steps (IG and Blur IG as one
compute_at run, Guided IG one run per count), insertion, SIC and AIC on the entropy and MS-SSIM
axes, JPEG stability and the completeness gap, with curves shaped as the real ones (insertion's
K + 1 scores; PIC curves interpolated from 25 levels by the rescoring op) and a tenth of the
images skipped by SIC/AIC's rules. Written through `Store.record` in batches of 16, as a run
writes, so its size and the time spent writing are the real store's.

    .venv/bin/python bench/study/synthetic.py --models 1 --images 500 --db /tmp/synthetic.sqlite
"""

from __future__ import annotations

import argparse
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from idgi_fast import __version__
from idgi_fast.models import ZOO
from idgi_fast.ops.information_curves import normalised_curves_torch
from idgi_fast.study.inputs.config import PRESETS, StudyConfig
from idgi_fast.study.store.database import ImageResult, Store

LEVELS, INSERTION_LEVELS, PER_BATCH = 25, 20, 16
AXES = ("entropy", "msssim")


def _pic(rng: np.random.Generator, rows: int, accuracy: bool) -> np.ndarray:
    """(rows, 1001) PIC curves from 25 levels as the embedded study's look: SIC's normalised
    probability rises with noise and saturates at 1 from an image-dependent level on; AIC's
    accuracy is 0 until the prediction turns right, then 1 with a few flips back."""
    x = np.sort(rng.uniform(0.0, 1.0, (rows, LEVELS)), axis=1)
    turn = rng.uniform(0.1, 0.9, (rows, 1))
    if accuracy:
        y = ((x > turn) ^ (rng.uniform(size=(rows, LEVELS)) < 0.05)).astype(np.float64)
    else:  # a few jumps, flat between them (the running maximum of the normalised probability)
        jumps = (rng.uniform(size=(rows, LEVELS)) < rng.uniform(0.05, 0.3, (rows, 1))) * rng.uniform(
            size=(rows, LEVELS)
        )
        y = np.clip(np.cumsum(jumps, axis=1) / np.maximum(jumps.sum(axis=1, keepdims=True), 1e-9), 0.0, 1.0)
    return normalised_curves_torch(torch.from_numpy(x), torch.from_numpy(y), 1000)[0].numpy()


def _batch_results(rng: np.random.Generator, images: list[str], counts: list[int]) -> list[ImageResult]:
    """One run's results for a batch of images, every curve of the batch drawn at once."""
    results = [ImageResult(image) for image in images]
    n = len(images)
    # SIC/AIC's skip rules drop about a tenth of the images; they look at the image and its canvas
    # only, so an image is skipped in every run or in none
    skipped = np.array([zlib.crc32(image.encode()) % 10 == 0 for image in images])
    for idgi in (0, 1):
        for count in counts:
            insertion = np.cumsum(rng.uniform(0.0, 1.0, (n, INSERTION_LEVELS + 1)), axis=1)
            insertion /= insertion[:, -1:]
            gaps = np.abs(rng.normal(0.0, 1e-3 if idgi else 0.1, n))
            mse = rng.uniform(1e-7, 1e-5, (2, n))
            pic = {f"{name}/{axis}": _pic(rng, n, name == "aic") for axis in AXES for name in ("sic", "aic")}
            for i, result in enumerate(results):
                result.curves.append((idgi, count, "insertion", insertion[i]))
                scores = {
                    "completeness_gap": float(gaps[i]),
                    "insertion/probability": float(insertion[i].mean()),
                    "insertion/probability_ratio": float(insertion[i].mean() * 1.5),
                    "stability/mse": float(mse[0, i]),
                    "stability/mse_sum": float(mse[1, i]),
                }
                for key, curves in pic.items():
                    curve = curves[i]
                    if skipped[i]:
                        curve = np.full_like(curve, np.nan)
                        result.skips.append((idgi, count, key, ["canvas_not_less_predictive"]))
                    # the score is the area under the curve (the trapezoid rule), as evaluate writes it
                    area = (curve.sum() - 0.5 * (curve[0] + curve[-1])) / (curve.size - 1)
                    scores[key] = float("nan") if skipped[i] else float(area)
                    result.curves.append((idgi, count, key, curve))
                result.scores += [(idgi, count, metric, value) for metric, value in scores.items()]
    return results


def _runs(method: str) -> list[tuple[int, list[int]]]:
    counts = list(PRESETS["paper"]["steps"])
    return [(n, [n]) for n in counts] if method == "guided_ig" else [(counts[-1], counts)]


def synthetic_study(
    db: str | Path, models: int = 1, images: int = 100, seed: int = 0, replicate: bool = False
) -> dict:
    """Write the synthetic study into `db` (a new file); returns its size, maps and write time.
    replicate: every model after the first gets a copy of the first one's results (SQL, minutes
    instead of an hour at full size; the database's size and the report's work are the same)."""
    rng = np.random.default_rng(seed)
    names = list(ZOO)[:models]
    ids = [f"n{1440764 + i % 1000:08d}/ILSVRC2012_val_{i + 1:08d}.JPEG" for i in range(images)]
    config = StudyConfig(**{**PRESETS["paper"], "models": tuple(names)}, data_root="/data/imagenet/val")
    store = Store(db, __version__)
    writing = maps = 0.0
    try:
        run = store.start_run(config.to_dict(), {"idgi_fast": __version__}, "synthetic")
        for model in names[:1] if replicate else names:
            decisions = [(image, i % 1000, i % 1000, 0.9, "used", "") for i, image in enumerate(ids)]
            for method in ("ig", "blur_ig", "guided_ig"):
                for steps, counts in _runs(method):
                    for start in range(0, images, PER_BATCH):
                        batch = _batch_results(rng, ids[start : start + PER_BATCH], counts)
                        started = time.perf_counter()
                        store.record(
                            run, model, method, steps, batch, 0.0, decisions[start : start + PER_BATCH]
                        )
                        writing += time.perf_counter() - started
                        maps += 2 * len(counts) * len(batch)
        per_model = maps
        for model in names[1:] if replicate else []:
            _copy_model(store, names[0], model)
            maps += per_model
        store.finish_run(run, writing)
        store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    size = Path(db).stat().st_size
    return {"models": models, "images": images, "maps": int(maps), "bytes": size, "write_s": writing}


def _copy_model(store: Store, source: str, model: str) -> None:
    """Every result of `source` again under `model` (new map ids), in one transaction."""
    run = store.connection.execute
    run("BEGIN IMMEDIATE")
    try:
        run("INSERT OR IGNORE INTO names (name) VALUES (?)", (model,))
        old, new = (
            run("SELECT id FROM names WHERE name = ?", (name,)).fetchone()[0] for name in (source, model)
        )
        shift = run("SELECT MAX(id) FROM maps").fetchone()[0]
        low = run("SELECT MIN(id) FROM maps WHERE model = ?", (old,)).fetchone()[0]
        run(
            "INSERT INTO maps SELECT id - ? + ? + 1, ?, method, steps, idgi, count, image FROM maps "
            "WHERE model = ?",
            (low, shift, new, old),
        )
        for table, column, key in (("map_scores", "value", "metric"), ("map_curves", "points", "curve")):
            run(
                f"INSERT INTO {table} SELECT t.map - ? + ? + 1, t.{key}, t.{column} FROM {table} t "
                f"JOIN maps m ON m.id = t.map WHERE m.model = ?",
                (low, shift, old),
            )
        run(
            "INSERT INTO done_marks SELECT ?, method, steps, image, run, seconds FROM done_marks "
            "WHERE model = ?",
            (new, old),
        )
        run(
            "INSERT INTO decisions SELECT ?, image, label, predicted, probability, status, why "
            "FROM decisions WHERE model = ?",
            (new, old),
        )
        run("COMMIT")
    except BaseException:
        run("ROLLBACK")
        raise


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=1)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument(
        "--replicate",
        action="store_true",
        help="models after the first copy its results (the same size and report work, much faster to write)",
    )
    args = parser.parse_args()
    if args.db.exists():
        parser.error(f"--db {args.db} exists; give a new file")
    found = synthetic_study(args.db, args.models, args.images, replicate=args.replicate)
    print(
        f"{found['models']} model(s) × {found['images']} images: {found['maps']} maps, "
        f"{found['bytes'] / 1e6:.1f} MB ({found['bytes'] / found['maps']:.0f} bytes per map), "
        f"written in {found['write_s']:.1f} s ({1e3 * found['write_s'] / found['maps']:.2f} ms per map)"
    )


if __name__ == "__main__":
    main()
