"""The study's loop: models × methods × step counts over a set of images, attributions and
metrics into the study database (store/), resumable and sharded under torchrun. Both entries
run it: `run_study` (the named models, `idgi-fast run`) and `idgi_fast.study.run` (a user's own
model and data, own_model.py).

Work is done in batches of images per (model, method, run step count). IG and Blur IG run
once at the largest step count with `compute_at` set to every requested count (docs/semantics.md
§1: each sub-path equals a direct run); a method whose path depends on the step count (the
registry's `supports_compute_at`, Guided IG) runs once per count. Every batch is explained
once (base and IDGI from the same model calls), scored for each variant and count, and written in
one transaction with its done-marks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ... import __version__
from ...utils.progress import progress
from ..inputs.config import StudyConfig, StudySettings
from ..inputs.named_models import ImageSource, check_models, check_spec_outputs, named_subjects
from ..inputs.subjects import Subject
from ..store.database import Store
from ..store.identity import check_settings
from ..store.maps import maps_folder
from ..store.work import missing_work, work_keys
from .batches import explain_and_score, filter_images
from .distributed import Ranks, StopRequests, merge_shards, shard_path
from .lock import exclusive_run


def run_study(
    config: StudyConfig,
    db: str | Path,
    *,
    device: str | torch.device | None = None,
    show_progress: bool | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Run (or resume) the study of named models into the database `db`; returns counts of this
    process's work (`execute`)."""
    check_models(config)
    subjects, classes = named_subjects(config)  # a spec that cannot be built stops here
    source = ImageSource(config, classes)  # so does a missing or empty image folder
    check_spec_outputs(config, subjects, source)
    run_config = config.to_dict()
    if classes is not None:  # a spec's classes, so that the report can list the folder's images again
        run_config["classes"] = classes
    return execute(
        config,
        subjects,
        source,
        db,
        data=source.identity(),
        run_config=run_config,
        device=device,
        show_progress=show_progress,
        should_stop=should_stop,
    )


def execute(
    config: StudySettings,
    subjects: list[Subject],
    source,
    db: str | Path,
    *,
    data: dict,
    run_config: dict,
    device: str | torch.device | None = None,
    show_progress: bool | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Run (or resume) `config` over `subjects` and the images of `source` (its `ids`, and
    `load(indices, model)`) into the database `db`, whose identity takes `data` (what the images
    are); `run_config` is recorded in the runs table. Returns counts of this process's work.

    Images already marked done for a (model, method, steps) are skipped, so re-running after
    a kill finishes the work and a finished study costs only the check. Under torchrun
    (WORLD_SIZE > 1) each rank takes every world-th image and writes its own shard
    (`study.rank<r>.sqlite` beside `study.sqlite`); rank 0 merges the shards into `db` at the
    start (left by a killed run) and at the end.
    """
    db = Path(db)
    ranks = Ranks.from_environment()
    if device is None:
        device = f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu"
    work = _Work(config, subjects, source, data, run_config, torch.device(device), show_progress, should_stop)
    # one run per database: rank 0 (or a single process) holds its lock for the whole launch; the
    # other ranks write nothing before rank 0 has it (they wait at its first barrier), and a second
    # launch whose rank 0 is refused is ended by torchrun
    try:
        with exclusive_run(db) if ranks.rank == 0 else contextlib.nullcontext():
            return _run_ranked(work, db, ranks)
    finally:
        ranks.close()


@dataclass
class _Work:
    """What one call of `execute` runs, as its helpers take it."""

    config: StudySettings
    subjects: list[Subject]
    source: object
    data: dict
    run_config: dict
    device: torch.device
    show_progress: bool | None
    should_stop: Callable[[], bool] | None


def _run_ranked(work: _Work, db: Path, ranks: Ranks) -> dict:
    """execute's work on this rank: the database checked (rank 0), this rank's images run into
    the database or its shard, the shards merged and what is missing counted (rank 0)."""
    config = work.config
    if ranks.rank == 0:
        merge_shards(db)
        # create it, or refuse a damaged, foreign or other-settings one, before the others read it
        store = Store(db, __version__)
        try:
            check_settings(store, config, work.subjects, work.data)
        finally:
            store.close()
    ranks.barrier()
    if ranks.world > 1:
        main = Store(db, __version__)
        try:
            already = {key: main.finished_images(*key) for key in work_keys(config)}
            already.update({model: main.image_decisions(model) for model in config.models})
        finally:
            main.close()
        store = Store(shard_path(db, ranks.rank), __version__)
    else:
        already = {}
        store = Store(db, __version__)
    try:
        summary = _run(work, store, already, ranks, maps_folder(db))
    finally:
        store.close()
    ranks.barrier()
    if ranks.rank == 0 and ranks.world > 1:
        merge_shards(db)
    if ranks.rank == 0 and not summary["stopped"]:
        store = Store(db, __version__)
        try:
            summary["missing"] = missing_work(store, config, work.source.ids)
        finally:
            store.close()
    ranks.barrier()
    return summary


def _versions(subjects: list[Subject]) -> dict:
    """The versions a run's numbers depend on, for its row in the runs table."""
    from importlib import metadata

    versions = {"idgi_fast": __version__, "torch": torch.__version__}
    packages = ["triton", "pytorch-msssim", "pillow"]
    packages += sorted({s.package for s in subjects if s.package is not None})
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _run(work: _Work, store: Store, already: dict, ranks: Ranks, maps: Path) -> dict:
    config, source = work.config, work.source
    run = store.start_run(
        work.run_config, _versions(work.subjects), str(work.device), ranks.rank, ranks.world
    )
    started = time.perf_counter()
    summary = {"images_done": 0, "images_skipped_as_done": 0, "images_excluded": 0, "stopped": False}
    try:
        with StopRequests() as stop:

            def should_stop(stop=stop):
                return stop.requested or (work.should_stop is not None and work.should_stop())

            wanted = None if config.save_maps else set(source.ids[: config.preview_images])
            for subject in work.subjects:
                model = subject.build(work.device)
                decisions = {**already.get(subject.name, {}), **store.image_decisions(subject.name)}
                mine = range(ranks.rank, len(source.ids), ranks.world)
                for key in _keys(config, subject.name):
                    done = store.finished_images(*key) | already.get(key, set())
                    todo = [
                        i
                        for i in mine
                        if source.ids[i] not in done and decisions.get(source.ids[i], "used") == "used"
                    ]
                    summary["images_skipped_as_done"] += sum(source.ids[i] in done for i in mine)
                    batches = _Batches(work, store, run, model, key, decisions, maps, wanted)
                    if not batches.run(todo, summary, should_stop):
                        summary["stopped"] = True
                        return summary
        return summary
    finally:
        store.finish_run(run, time.perf_counter() - started)


def _keys(config, name: str):
    """(model, method, run step count, counts) of every run the settings ask of model `name`."""
    for method in config.methods:
        if config.applies(name, method):
            for steps, counts in config.runs(method):
                yield (name, method, steps, tuple(counts))


@dataclass
class _Batches:
    """One (model, method, steps) run's images, explained and written a batch at a time."""

    work: _Work
    store: Store
    run_id: int
    model: object
    key: tuple
    decisions: dict
    maps: Path
    wanted: set | None

    def run(self, todo: list[int], summary: dict, should_stop: Callable[[], bool]) -> bool:
        """False when asked to stop before every batch was done."""
        name, method, steps, _ = self.key
        size = self.work.config.images_per_batch
        bar = progress(
            total=len(todo),
            desc=f"{name} {method} steps={steps}",
            unit="image",
            enabled=self.work.show_progress,
        )
        with bar:
            for start in range(0, len(todo), size):
                if should_stop():
                    return False
                counted = _run_batch(
                    self.work,
                    self.store,
                    self.run_id,
                    self.model,
                    name,
                    self.key,
                    todo[start : start + size],
                    self.decisions,
                    self.maps,
                    self.wanted,
                )
                summary["images_done"] += counted[0]
                summary["images_excluded"] += counted[1]
                bar.update(counted[2])
        return True


def _run_batch(
    work: _Work, store: Store, run: int, model, name: str, key: tuple, batch, decisions, maps, wanted
):
    """One batch filtered, explained, scored and written; (images done, images newly left out,
    images handled)."""
    config, device = work.config, work.device
    _, method, steps, counts = key
    started = time.perf_counter()
    loaded = work.source.load(batch, model)
    new_decisions = filter_images(model, loaded, decisions, config.only_correct, device)
    keep = [j for j, image in enumerate(loaded.ids) if decisions[image] == "used"]
    excluded = len(new_decisions) - sum(row.status == "used" for row in new_decisions)
    results = []
    if keep:
        results = explain_and_score(
            config,
            model,
            loaded.images[keep].to(device),
            loaded.labels[keep].to(device),
            method,
            steps,
            list(counts),
            [loaded.ids[j] for j in keep],
            name,
            maps,
            wanted,
            masks=None if loaded.masks is None else loaded.masks[keep].to(device),
        )
    seconds = (time.perf_counter() - started) / max(1, len(keep))
    store.record(run, name, method, steps, results, seconds, new_decisions)
    return len(keep), excluded, len(loaded.ids) + len(loaded.unreadable)
