"""`idgi-fast run`: models × methods × step counts over a set of images, attributions and
metrics into the study database (store.py), resumable.

Work is done in batches of images per (model, method, run step count). IG and Blur IG run
once at the largest step count with `compute_at` set to every requested count (SEMANTICS.md
§1: each sub-path equals a direct run); Guided IG's path depends on the step count, so it runs
once per count. Every batch is explained once (base and IDGI from the same model calls),
scored for each variant and count, and written in one transaction with its done-marks.
"""
from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .. import __version__
from ..api import explain
from ..data.scenes import generate_scenes
from ..methods import METHODS
from ..metrics import evaluate
from ..metrics.stability import quantised
from ..models.toy import load_scenenet
from ..progress import progress
from .store import ImageResult, Store

SCENE_SEED = 1  # the embedded model's held-out scenes (it was trained on seed 0)
EMBEDDED_MODEL = "scenenet"


@dataclass(frozen=True)
class StudyConfig:
    """What `idgi-fast run` does. The defaults are the embedded study: SceneNet on 64 held-out
    synthetic scenes, small enough for a few minutes on 2 CPU cores."""

    models: tuple[str, ...] = (EMBEDDED_MODEL,)
    methods: tuple[str, ...] = tuple(METHODS)
    steps: tuple[int, ...] = (8, 32)
    images: int = 64
    first_image: int = 0
    batch_size: int = 16  # images explained and scored together
    backend: str = "auto"
    metrics: tuple[str, ...] = ("insertion", "deletion", "sic", "aic")
    metric_options: dict = field(default_factory=lambda: {
        "insertion_canvas": "blur", "information": ("entropy", "msssim"), "webp_method": 0})

    def __post_init__(self):
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods must be a non-empty subset of {tuple(METHODS)}; got {list(self.methods)}")
        if not self.steps or any(not isinstance(s, int) or s < 1 for s in self.steps):
            raise ValueError(f"steps must be positive step counts; got {list(self.steps)}")
        unknown = [m for m in self.models if m != EMBEDDED_MODEL]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; this version runs {EMBEDDED_MODEL!r}")
        for name in ("images", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")

    def runs(self, method: str) -> list[tuple[int, list[int]]]:
        """(run step count m, the counts it yields) for a method."""
        counts = sorted(set(self.steps))
        if method == "guided_ig":
            return [(n, [n]) for n in counts]
        largest = counts[-1]
        bad = [n for n in counts if largest % n]
        if bad:
            raise ValueError(f"for {method}, every step count must divide the largest ({largest}) so that one "
                             f"compute_at run yields them all; {bad} do not")
        return [(largest, counts)]

    def to_dict(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


@dataclass
class Dataset:
    ids: list[str]
    images: torch.Tensor
    labels: torch.Tensor


def load_model(name: str, device: torch.device):
    return load_scenenet().to(device)


def load_images(config: StudyConfig, device: torch.device) -> Dataset:
    scenes = generate_scenes(config.images, seed=SCENE_SEED, start=config.first_image)
    ids = [f"scene-{SCENE_SEED}-{config.first_image + i:06d}" for i in range(config.images)]
    return Dataset(ids, quantised(scenes.images).to(device), scenes.labels.to(device))


def _image_results(ids: list[str], scored: dict, result) -> list[ImageResult]:
    """Rows of each image from the evaluations of one batch, keyed (idgi, count)."""
    rows = [ImageResult(image) for image in ids]
    output_change = (result.outputs[:, -1] - result.outputs[:, 0]).double().cpu()
    for (idgi, count), evaluation in scored.items():
        attribution_sum = result.attribution(idgi=bool(idgi), steps=count).double().flatten(1).sum(dim=1).cpu()
        for i, row in enumerate(rows):
            row.scores.append((idgi, count, "completeness_gap", float((attribution_sum[i] - output_change[i]).abs())))
            for metric, values in evaluation.per_image.items():
                row.scores.append((idgi, count, metric, float(values[i])))
            for curve, values in evaluation.curves.items():
                row.curves.append((idgi, count, curve, values[i].double().numpy()))
            for metric, reasons in evaluation.skip_reasons.items():
                row.skips.append((idgi, count, metric, reasons[i]))
    return rows


class _StopRequests:
    """SIGINT/SIGTERM ask the run to stop after the current batch (a second SIGINT interrupts)."""

    def __init__(self):
        self.requested = False
        self.saved = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: stopping after the current batch (its results are kept)",
              flush=True)

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


@dataclass
class Ranks:
    """This process's place in a torchrun launch (rank 0 of 1 without one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # whether run_study created the process group (and so destroys it)

    @classmethod
    def from_environment(cls) -> "Ranks":
        import os

        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        import torch.distributed as dist

        owns = not dist.is_initialized()
        if owns:  # NCCL between GPUs, gloo between CPU processes; torchrun's rendezvous gives the rest
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def shard_path(db: Path, rank: int) -> Path:
    return db.with_name(f"{db.stem}.rank{rank}{db.suffix}")


def _merge_shards(db: Path) -> None:
    """Fold every shard file beside `db` into it, then delete them (rank 0 only)."""
    shards = sorted(db.parent.glob(f"{db.stem}.rank*{db.suffix}"))
    if not shards:
        return
    store = Store(db, __version__)
    try:
        for shard in shards:
            store.merge(shard)
            for path in (shard, Path(f"{shard}-wal"), Path(f"{shard}-shm")):
                path.unlink(missing_ok=True)
    finally:
        store.close()


def run_study(config: StudyConfig, db: str | Path, *, device: str | torch.device | None = None,
              show_progress: bool | None = None, should_stop: Callable[[], bool] | None = None) -> dict:
    """Run (or resume) the study into the database `db`; returns counts of this process's work.

    Images already marked done for a (model, method, steps) are skipped, so re-running after
    a kill finishes the work and a finished study costs only the check. Under torchrun
    (WORLD_SIZE > 1) each rank takes every world-th image and writes its own shard
    (`<db>.rank<r>`); rank 0 merges the shards into `db` at the start (left by a killed run)
    and at the end.
    """
    db = Path(db)
    ranks = Ranks.from_environment()
    if device is None:
        device = f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    try:
        if ranks.rank == 0:
            _merge_shards(db)
            Store(db, __version__).close()  # create it, or refuse one of another schema, before the others read it
        ranks.barrier()
        if ranks.world > 1:
            main = Store(db, __version__)
            try:
                already = {key: main.finished_images(*key) for key in _work_keys(config)}
            finally:
                main.close()
            store = Store(shard_path(db, ranks.rank), __version__)
        else:
            already = {}
            store = Store(db, __version__)
        try:
            summary = _run(config, store, already, ranks, device, show_progress, should_stop)
        finally:
            store.close()
        ranks.barrier()
        if ranks.rank == 0 and ranks.world > 1:
            _merge_shards(db)
        ranks.barrier()
        return summary
    finally:
        ranks.close()


def _work_keys(config: StudyConfig):
    return [(model, method, steps) for model in config.models for method in config.methods
            for steps, _ in config.runs(method)]


def _run(config, store: Store, already: dict, ranks: Ranks, device, show_progress, should_stop) -> dict:
    run = store.start_run(config.to_dict(), {"idgi_fast": __version__, "torch": torch.__version__}, str(device),
                          ranks.rank, ranks.world)
    started = time.perf_counter()
    summary = {"images_done": 0, "images_skipped_as_done": 0, "stopped": False}
    try:
        with _StopRequests() as stop:
            for model_name in config.models:
                model = load_model(model_name, device)
                data = load_images(config, device)
                mine = range(ranks.rank, len(data.ids), ranks.world)
                for method in config.methods:
                    for steps, counts in config.runs(method):
                        done = store.finished_images(model_name, method, steps) | \
                            already.get((model_name, method, steps), set())
                        todo = [i for i in mine if data.ids[i] not in done]
                        summary["images_skipped_as_done"] += len(mine) - len(todo)
                        bar = progress(total=len(todo), desc=f"{model_name} {method} steps={steps}", unit="image",
                                       enabled=show_progress)
                        with bar:
                            for start in range(0, len(todo), config.batch_size):
                                if stop.requested or (should_stop is not None and should_stop()):
                                    summary["stopped"] = True
                                    return summary
                                rows = todo[start:start + config.batch_size]
                                batch_started = time.perf_counter()
                                images, labels = data.images[rows], data.labels[rows]
                                result = explain(model, images, target=labels, method=method, steps=steps, idgi=True,
                                                 compute_at=counts if method != "guided_ig" else None,
                                                 backend=config.backend)
                                scored = {}
                                for idgi in (0, 1):
                                    for count in counts:
                                        scored[(idgi, count)] = evaluate(
                                            model, images, result.attribution(idgi=bool(idgi), steps=count), labels,
                                            config.metrics, backend=config.backend, show_progress=False,
                                            **config.metric_options)
                                ids = [data.ids[i] for i in rows]
                                seconds = (time.perf_counter() - batch_started) / len(rows)
                                store.record(run, model_name, method, steps, _image_results(ids, scored, result), seconds)
                                summary["images_done"] += len(rows)
                                bar.update(len(rows))
        return summary
    finally:
        store.finish_run(run, time.perf_counter() - started)
