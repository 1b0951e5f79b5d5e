"""`idgi-fast run --estimate`: what a run will cost, from a few images of it, before spending it.

The first `probe` images of the run go through every model × method × run step count into a
throw-away database (the real one is only read). Each (model, method, steps) costs its measured
seconds per image — the runner's own per-image share of its batches: loading, the
misclassification filter, explaining and scoring — times the images it still lacks; images the
database has not decided yet count with the probe's share of correctly classified ones. One
model load per model, and the rest of the probe's wall time outside its batches, are added once.
The database grows by the probe's bytes per image run.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ... import __version__
from ..inputs.config import StudyConfig
from ..inputs.named_models import ImageSource, check_models
from ..store.database import Store
from .runner import run_study


@dataclass
class Estimate:
    rows: list[dict]  # per (model, method, steps): seconds per image, images to do, projected seconds
    seconds: float  # the whole projected wall time
    overhead_seconds: float  # model loads and the rest outside batches, included in `seconds`
    database_bytes: int  # projected size of the database when the run is done
    probe_seconds: float  # what the probe itself took
    probe_images: int
    device: str


def _database_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def _remaining(config: StudyConfig, db: Path, ids: list[str]) -> dict:
    """(model, method, steps) → (images decided 'used' and not done, images not decided yet)."""
    work = {}
    store = Store(db, __version__) if db.exists() and db.stat().st_size else None  # an empty file stays empty
    try:
        for model in config.models:
            decisions = store.image_decisions(model) if store else {}
            for method in config.methods:
                if not config.applies(model, method):
                    continue
                for steps, counts in config.runs(method):
                    done = store.finished_images(model, method, steps, counts) if store else set()
                    left = [image for image in ids if image not in done]
                    used = sum(decisions.get(image) == "used" for image in left)
                    work[(model, method, steps)] = (used, sum(image not in decisions for image in left))
    finally:
        if store is not None:
            store.close()
    return work


def estimate_study(
    config: StudyConfig, db: str | Path, probe: int = 4, device: str | torch.device | None = None
) -> Estimate:
    """Project the wall time and database size of `idgi-fast run` with `config` into `db` (module
    docstring); nothing is written to `db`."""
    check_models(config)
    source = ImageSource(config)
    db = Path(db)
    work = _remaining(config, db, source.ids)
    probe = max(1, min(probe, len(source.ids)))
    probe_config = replace(config, images=probe, images_per_batch=probe, preview_images=0, save_maps=False)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory(prefix="idgi-estimate-") as folder:
        empty = Path(folder) / "empty.sqlite"
        Store(empty, __version__).close()
        trial = Path(folder) / "probe.sqlite"
        started = time.perf_counter()
        run_study(probe_config, trial, device=device, show_progress=False)
        probe_seconds = time.perf_counter() - started
        store = Store(trial, __version__)
        try:
            timed = store.connection.execute(
                "SELECT model, method, steps, COUNT(*), SUM(seconds) FROM done GROUP BY model, method, steps"
            ).fetchall()
            used_share = {}
            for model in config.models:
                decided = store.image_decisions(model)
                used_share[model] = (
                    sum(status == "used" for status in decided.values()) / len(decided) if decided else 0.0
                )
        finally:
            store.close()
        runs_done = sum(row[3] for row in timed)
        empty_bytes = _database_bytes(empty)
        bytes_per_run = (_database_bytes(trial) - empty_bytes) / max(1, runs_done)
    per_image = {(m, method, steps): total / n for m, method, steps, n, total in timed}
    rows, batches = [], 0.0
    for (model, method, steps), (used, undecided) in work.items():
        images = used + undecided * used_share[model]
        seconds = per_image.get((model, method, steps), 0.0)
        rows.append(
            {
                "model": model,
                "method": method,
                "steps": steps,
                "s/image": seconds,
                "images": round(images),
                "projected s": seconds * images,
            }
        )
        batches += seconds * images
    overhead = max(0.0, probe_seconds - sum(total for *_, total in timed))
    total_runs = sum(row["images"] for row in rows)
    return Estimate(
        rows=rows,
        seconds=batches + overhead,
        overhead_seconds=overhead,
        database_bytes=int(
            (_database_bytes(db) if db.exists() else empty_bytes) + bytes_per_run * total_runs
        ),
        probe_seconds=probe_seconds,
        probe_images=probe,
        device=str(device),
    )
