"""`idgi-fast run`: models × methods × step counts over a set of images, attributions and
metrics into the study database (store.py), resumable.

Work is done in batches of images per (model, method, run step count). IG and Blur IG run
once at the largest step count with `compute_at` set to every requested count (docs/semantics.md
§1: each sub-path equals a direct run); a method whose path depends on the step count (the
registry's `supports_compute_at`, Guided IG) runs once per count. Every batch is explained
once (base and IDGI from the same model calls), scored for each variant and count, and written in
one transaction with its done-marks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import __version__
from ..api import explain
from ..atomic import atomic_write
from ..data.folders import LoadedImages, folder_records, load_records, read_wnids
from ..data.scenes import generate_scenes
from ..figures import save_png, to_uint8_image
from ..methods import METHOD_NAMES
from ..metrics import evaluate
from ..metrics.common import score_targets
from ..metrics.evaluate import check_evaluation_settings
from ..metrics.stability import quantised, result_stability
from ..models import EMBEDDED_MODEL, MODEL_NAMES, ZOO, input_sizes, load_model, model_classes
from ..models.toy import weights_path
from ..models.weights import read_state_file
from ..models.zoo import DEFAULT_WEIGHTS, check_zoo_available, is_weights_file
from ..ops.backends import BACKENDS
from ..progress import progress
from ..recipes import DEFAULT_NOISE, RECIPES, RECIPES_HELP, check_noise_settings, recipe
from ..saliency import saliency_map
from ..xrai import check_xrai_available, segment_masks, xrai
from .lock import exclusive_run
from .store import ImageResult, IncompatibleDatabase, Store

SCENE_SEED = 1  # the embedded model's held-out scenes (it was trained on seed 0)
# JPEG stability's per-image mean squared difference under each normalisation (docs/semantics.md §6):
# L1-normalised maps, and the IDGI study's signed-sum normalisation
STABILITY_METRICS = {"l1": "stability/mse", "sum": "stability/mse_sum"}


@dataclass(frozen=True)
class StudyConfig:
    """What `idgi-fast run` does. The defaults are the embedded study: SceneNet on 64 held-out
    synthetic scenes, small enough for a few minutes on 2 CPU cores."""

    models: tuple[str, ...] = (EMBEDDED_MODEL,)
    methods: tuple[str, ...] = METHOD_NAMES  # or study method names: "smoothgrad:ig", … (recipes.py)
    steps: tuple[int, ...] = (8, 32)
    images: int | None = 64  # scenes to run; for an image folder at most this many (None: all)
    first_image: int = 0
    images_per_batch: int = 16  # images explained and scored together (one transaction each)
    data_root: str | None = None  # an image folder (data/folders.py) instead of the synthetic scenes
    labels_file: str | None = None
    wnids_file: str | None = None
    resize: int | None = None  # folder images: shorter side, then a centre crop (None: each model's own
    crop: int | None = None  # evaluation transform, e.g. 256 → 224, Inception-v3 342 → 299)
    weights: dict = field(default_factory=dict)  # model → weights (models.load_model); absent: the default
    only_correct: bool = True  # explain only images the model classifies correctly
    # also write every saliency map (float32 .npy) and input (PNG) beside the database
    save_maps: bool = False
    # the first images' maps and inputs are written anyway, for the report's saliency grid
    preview_images: int = 8
    stability: bool = True  # JPEG stability: one more explain per batch, of the JPEG round trip (quality 75)
    backend: str = "auto"
    # CUDA graphs for explain and evaluate (None: on CUDA; False: off). Not part of the identity:
    # the results equal the uncaptured ones (docs/semantics.md §13)
    graphs: bool | None = None
    # the noise tunnels' samples, stdev (pixel units) and seed (docs/semantics.md §9)
    noise: dict = field(default_factory=lambda: dict(DEFAULT_NOISE))
    # fitted step schedules by tag: {"method", "positions", "params", "model"} (schedules.Schedule);
    # a method "<name>@<tag>" runs over one (docs/semantics.md §12)
    schedules: dict = field(default_factory=dict)
    metrics: tuple[str, ...] = ("insertion", "deletion", "sic", "aic")
    metric_options: dict = field(
        default_factory=lambda: {
            "insertion_canvas": "blur",
            "information": ("entropy", "msssim"),
            "webp_method": 0,
        }
    )

    def __post_init__(self):
        unknown = [m for m in self.methods if m.partition("@")[0] not in RECIPES]
        if unknown or not self.methods:
            raise ValueError(f"methods must name study methods; {unknown or 'none'} given: {RECIPES_HELP}")
        for name in self.methods:
            chosen = recipe(name)
            if chosen.schedule is None:
                continue
            fitted = self.schedules.get(chosen.schedule)
            if fitted is None:
                raise ValueError(f"{name}: no schedule {chosen.schedule!r} given (--schedule FILE)")
            if fitted["method"] != chosen.method:
                raise ValueError(
                    f"{name}: schedule {chosen.schedule!r} was fitted for {fitted['method']}, "
                    f"not {chosen.method}"
                )
        object.__setattr__(self, "noise", check_noise_settings(self.noise))
        if not self.steps or any(not isinstance(s, int) or s < 1 for s in self.steps):
            raise ValueError(f"steps must be positive step counts; got {list(self.steps)}")
        unknown = [m for m in self.models if m not in MODEL_NAMES]
        if unknown or not self.models:
            raise ValueError(
                f"unknown model(s) {unknown or '(none given)'}; choose from {', '.join(MODEL_NAMES)}"
            )
        imagenet = [m for m in self.models if m in ZOO]
        if imagenet and self.data_root is None:
            raise ValueError(
                f"{', '.join(imagenet)} classify ImageNet images: give the ImageNet validation folder "
                f"(--data); the synthetic scenes are for {EMBEDDED_MODEL}"
            )
        if imagenet and EMBEDDED_MODEL in self.models and self.data_root is not None:
            raise ValueError(
                f"{EMBEDDED_MODEL} has other classes than {', '.join(imagenet)} (ImageNet-1k), so one image "
                "folder cannot label both; run them as two studies"
            )
        stray = [m for m in self.weights if m not in self.models]
        if stray:
            raise ValueError(f"weights given for {stray}, which are not among the models {list(self.models)}")
        if self.images is None and self.data_root is None:
            raise ValueError(
                "images is None (every image of an image folder, as --preset paper has it) but no image "
                "folder is given: pass --data FOLDER, or --images N for N synthetic scenes"
            )
        for name in ("images", "images_per_batch", "resize", "crop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be ≥ 1, got {value}")
        if self.preview_images < 0:
            raise ValueError(f"preview_images must be ≥ 0, got {self.preview_images}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        check_evaluation_settings(self.metrics, self.metric_options)  # a bad option stops before any work
        for method in self.methods:
            self.runs(method)  # step counts that one compute_at run cannot yield stop here too

    def applies(self, model: str, method: str) -> bool:
        """Whether `method` runs on `model`: a scheduled method only on the model it was fitted
        for (any model when the schedule names none)."""
        tag = recipe(method).schedule
        return tag is None or self.schedules[tag].get("model", "") in ("", model)

    def runs(self, method: str) -> list[tuple[int, list[int]]]:
        """(run step count m, the counts it yields) for a method; a scheduled method has its
        schedule's m only."""
        tag = recipe(method).schedule
        if tag is not None:
            m = len(self.schedules[tag]["positions"]) - 1
            return [(m, [m])]
        counts = sorted(set(self.steps))
        if not recipe(method).spec.supports_compute_at:
            return [(n, [n]) for n in counts]
        largest = counts[-1]
        bad = [n for n in counts if largest % n]
        if bad:
            raise ValueError(
                f"for {method}, every step count must divide the largest ({largest}) so that one "
                f"compute_at run yields them all; {bad} do not"
            )
        return [(largest, counts)]

    def to_dict(self) -> dict:
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()
        }


# The IDGI reproducibility study's grid (../shared/study, §4.1): the ten zoo models, the three
# methods ± IDGI (IG and Guided IG from a black baseline, every parameter at its default), step
# counts 8 … 128, the ImageNet validation images each model classifies correctly, and the scores it
# reports: insertion, SIC and AIC on the normalised-entropy and the MS-SSIM axes (raw MS-SSIM),
# JPEG stability at quality 75. What its text does not fix is ours: the blur bokeh and insertion
# canvas (docs/semantics.md §6), WebP method 0 for the entropy axis.
PRESETS = {
    "paper": {
        "models": tuple(ZOO),
        "methods": METHOD_NAMES,
        "steps": (8, 16, 32, 64, 128),
        "images": None,
        "only_correct": True,
        "stability": True,
        "metrics": ("insertion", "sic", "aic"),
        "metric_options": {
            "insertion_canvas": "blur",
            "information": ("entropy", "msssim"),
            "msssim_norm": "none",
            "pic_profile": "blur",
            "webp_method": 0,
        },
    }
}


class ImageSource:
    """The study's images by index: the synthetic scenes (held in memory) or an image folder
    (decoded batch by batch, so a 50 000-image folder never sits in memory)."""

    def __init__(self, config: StudyConfig):
        self.config = config
        self._scenes = None
        if config.data_root is None:
            self.ids = [f"scene-{SCENE_SEED}-{config.first_image + i:06d}" for i in range(config.images)]
        else:
            classes = model_classes(config.models[0])
            if config.wnids_file is not None:
                listed = read_wnids(config.wnids_file)
                if len(listed) != len(classes):
                    raise ValueError(
                        f"the wnid list {config.wnids_file} names {len(listed)} classes but "
                        f"{config.models[0]} has {len(classes)} outputs; give one class id per output, in "
                        "output order"
                    )
            records = folder_records(config.data_root, config.labels_file, config.wnids_file, classes)
            records = records[config.first_image :]
            self.records = records if config.images is None else records[: config.images]
            self.ids = [record.id for record in self.records]
        self.resize, self.crop = config.resize, config.crop

    @property
    def scenes(self) -> LoadedImages:
        """The synthetic scenes, generated on first use (listing the ids needs none)."""
        if self._scenes is None:
            config = self.config
            scenes = generate_scenes(config.images, seed=SCENE_SEED, start=config.first_image)
            self._scenes = LoadedImages(self.ids, quantised(scenes.images), scenes.labels)
        return self._scenes

    def load(self, indices: list[int], model: torch.nn.Module | str | None = None) -> LoadedImages:
        """The images at `indices`; folder images get the config's sizes, else `model`'s own
        (a model or its name)."""
        if self.config.data_root is None:
            scenes = self.scenes
            return LoadedImages(
                [self.ids[i] for i in indices], scenes.images[indices], scenes.labels[indices]
            )
        resize, crop = input_sizes(model)
        return load_records([self.records[i] for i in indices], self.resize or resize, self.crop or crop)


def check_models(config: StudyConfig) -> None:
    """Fail before any work if a model cannot be built (torchvision missing, a weights file
    absent or unreadable) or an XRAI method lacks scikit-image."""
    regions = [m for m in config.methods if recipe(m).xrai]
    if regions:
        try:
            check_xrai_available()
        except ImportError as error:
            raise ValueError(f"{', '.join(regions)}: {error}") from None
    if any(m in ZOO for m in config.models):
        check_zoo_available()
    for model, weights in config.weights.items():
        if model == EMBEDDED_MODEL and weights is not None and not is_weights_file(weights):
            raise ValueError(
                f"weights {weights!r} for {model}: it takes a weights file (a path such as ./scenenet.pt)"
            )
        if weights is not None and is_weights_file(weights):
            if not Path(weights).is_file():
                raise FileNotFoundError(f"weights file {weights} for {model} not found")
            read_state_file(weights)  # an unreadable file stops here, before the database is touched


def _file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def weights_identity(model: str, weights) -> str:
    """What a model's weights are, for the study identity: a file by its content's hash, a
    torchvision name by itself, the defaults by what they resolve to."""
    if weights is None and model == EMBEDDED_MODEL:
        return _file_digest(weights_path())
    if weights is None:
        return DEFAULT_WEIGHTS
    if is_weights_file(weights):
        return _file_digest(weights)
    return str(weights)


def study_settings(config: StudyConfig) -> dict:
    """The study's identity: every setting that decides a stored value. Models, methods, step
    counts and images are not in it (they name the work; more of them is more work); each
    model's weights are, per model, and the noise settings once a noise tunnel is run."""
    if config.data_root is None:
        data = {"images": "synthetic scenes", "seed": SCENE_SEED}
    else:
        data = {
            "folder": str(Path(config.data_root).resolve()),
            "labels": None if config.labels_file is None else _file_digest(config.labels_file),
            "wnids": None if config.wnids_file is None else _file_digest(config.wnids_file),
            "resize": config.resize,
            "crop": config.crop,
        }
    settings = {
        "data": data,
        "only_correct": config.only_correct,
        "backend": config.backend,
        "metrics": sorted(config.metrics),
        "metric_options": config.metric_options,
        "stability": config.stability,
        "weights": {model: weights_identity(model, config.weights.get(model)) for model in config.models},
    }
    if any(recipe(method).tunnel is not None for method in config.methods):
        settings["noise"] = config.noise  # decides only the noise tunnels' values
    tags = {recipe(method).schedule for method in config.methods} - {None}
    if tags:  # each schedule by its positions and parameters: the tag names the work
        settings["schedules"] = {tag: config.schedules[tag] for tag in sorted(tags)}
    # through JSON: tuples become lists, as they come back from the database
    return json.loads(json.dumps(settings, sort_keys=True))


def _differences(stored: dict, current: dict, prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(stored) | set(current)):
        name = f"{prefix}{key}"
        if prefix in ("weights.", "schedules.") and (key not in stored or key not in current):
            continue  # another model or schedule is more work, not other settings
        if not prefix and key == "schedules" and (key not in stored or key not in current):
            continue
        if not prefix and key == "noise" and (key not in stored or key not in current):
            continue  # without a noise tunnel on one side, no stored value depends on it
        before, now = stored.get(key), current.get(key)
        if isinstance(before, dict) and isinstance(now, dict):
            found += _differences(before, now, f"{name}.")
        elif before != now:
            found.append(f"{name} is {before!r} there and {now!r} now")
    return found


def check_settings(store: Store, config: StudyConfig) -> None:
    """Resume or extend a study only under the settings its stored results were made with; a
    database without recorded settings (a new one, or one from before they were kept) takes
    these."""
    current = study_settings(config)
    stored = store.settings()
    if stored is not None:
        differences = _differences(stored, current)
        if differences:
            raise IncompatibleDatabase(
                f"{store.path} holds a study made with other settings, and its results would mix with "
                f"these: {'; '.join(differences)}. Run with the database's settings to resume or extend it "
                "(other models, methods, step counts or images are added to it), or write to a new --db file."
            )
        current["weights"] = {**stored["weights"], **current["weights"]}
        if "noise" in stored:
            current["noise"] = stored["noise"]
        if "schedules" in stored:
            current["schedules"] = {**stored["schedules"], **current.get("schedules", {})}
    store.record_settings(current)


def missing_work(store: Store, config: StudyConfig, ids: list[str]) -> list[dict]:
    """Each (model, method, run step count) of `config` over the images `ids` that lacks images:
    which counts it should yield, how many images it needs (those not left out as
    misclassified or unreadable) and how many of them are not done."""
    missing = []
    for model in config.models:
        decisions = store.image_decisions(model)
        needed = [image for image in ids if decisions.get(image, "used") == "used"]
        for method in config.methods:
            if not config.applies(model, method):
                continue
            for steps, counts in config.runs(method):
                done = store.finished_images(model, method, steps, counts)
                absent = sum(image not in done for image in needed)
                if absent:
                    missing.append(
                        {
                            "model": model,
                            "method": method,
                            "steps": steps,
                            "counts": counts,
                            "missing": absent,
                            "images": len(needed),
                        }
                    )
    return missing


def describe_missing(missing: list[dict]) -> str:
    return "; ".join(
        f"{m['model']} {m['method']} steps={m['steps']}"
        + (f" (counts {','.join(map(str, m['counts']))})" if m["counts"] != [m["steps"]] else "")
        + f": {m['missing']} of {m['images']} images"
        for m in missing
    )


def _filter(model, loaded: LoadedImages, decisions: dict, only_correct: bool, device) -> list[tuple]:
    """Decide every image of the batch not decided before (kept in `decisions`); returns the new
    rows (image, label, predicted, probability, status, why) for the database."""
    rows = [(image, None, None, None, "unreadable", why) for image, why in loaded.unreadable.items()]
    undecided = [j for j, image in enumerate(loaded.ids) if image not in decisions]
    if undecided:
        images, labels = loaded.images[undecided].to(device), loaded.labels[undecided].to(device)
        probability, predicted = score_targets(model, images, labels, None)
        for j, p, c in zip(undecided, probability.tolist(), predicted.tolist()):
            label = int(loaded.labels[j])
            wrong = only_correct and c != label
            rows.append(
                (
                    loaded.ids[j],
                    label,
                    c,
                    p,
                    "misclassified" if wrong else "used",
                    f"the model predicts class {c}" if wrong else "",
                )
            )
    decisions.update({row[0]: row[4] for row in rows})
    return rows


def maps_folder(db: Path) -> Path:
    """Where saved saliency maps go: `<db folder>/<db stem>_maps/`."""
    return db.with_name(f"{db.stem}_maps")


def map_path(maps: Path, model: str, method: str, steps: int, idgi: int, count: int, image: str) -> Path:
    return (
        maps
        / model
        / method.replace(":", "__")
        / f"steps{steps}"
        / f"{'idgi' if idgi else 'base'}_n{count}"
        / f"{image.replace('/', '__')}.npy"
    )


def input_path(maps: Path, model: str, image: str) -> Path:
    return maps / model / "inputs" / f"{image.replace('/', '__')}.png"


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


def _explain_and_score(
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
) -> list[ImageResult]:
    """One explain (base + IDGI, every count) and the metrics of each variant and count; an
    XRAI method scores (and saves, and checks the stability of) the region maps of each."""
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
            **chosen.explain_options(config.noise, ids, config.schedules),
        )

    def maps_of(found, x: torch.Tensor):
        return _xrai_maps(found, x) if chosen.xrai else found

    result = explain_batch(images)
    mapped = maps_of(result, images)
    if maps is not None:
        _save_maps(maps, model_name, method, steps, mapped, images, ids, counts, wanted)
    scored = {
        (idgi, count): evaluate(
            model,
            images,
            _scored_map(mapped.attribution(idgi=bool(idgi), steps=count), chosen.xrai),
            labels,
            config.metrics,
            backend=config.backend,
            graphs=config.graphs,
            show_progress=False,
            **config.metric_options,
        )
        for idgi in (0, 1)
        for count in counts
    }
    rows = _image_results(ids, scored, result)
    if config.stability:
        # the images are 8-bit (quantised scenes, decoded files), so the unperturbed maps are the ones above
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
    images' dtype (docs/semantics.md §10); each image segmented once for all of them."""
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
        print(
            f"\n{signal.Signals(signum).name}: stopping after the current batch (its results are kept)",
            flush=True,
        )

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
    def from_environment(cls) -> Ranks:
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


def run_study(
    config: StudyConfig,
    db: str | Path,
    *,
    device: str | torch.device | None = None,
    show_progress: bool | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Run (or resume) the study into the database `db`; returns counts of this process's work.

    Images already marked done for a (model, method, steps) are skipped, so re-running after
    a kill finishes the work and a finished study costs only the check. Under torchrun
    (WORLD_SIZE > 1) each rank takes every world-th image and writes its own shard
    (`study.rank<r>.sqlite` beside `study.sqlite`); rank 0 merges the shards into `db` at the
    start (left by a killed run) and at the end.
    """
    db = Path(db)
    check_models(config)
    source = ImageSource(config)  # a missing or empty image folder stops here, before the database
    ranks = Ranks.from_environment()
    if device is None:
        device = f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    # one run per database: rank 0 (or a single process) holds its lock for the whole launch; the
    # other ranks write nothing before rank 0 has it (they wait at its first barrier), and a second
    # launch whose rank 0 is refused is ended by torchrun
    try:
        with exclusive_run(db) if ranks.rank == 0 else contextlib.nullcontext():
            return _run_ranked(config, db, source, ranks, device, show_progress, should_stop)
    finally:
        ranks.close()


def _run_ranked(config, db: Path, source, ranks: Ranks, device, show_progress, should_stop) -> dict:
    """run_study's work on this rank: the database checked (rank 0), this rank's images run into
    the database or its shard, the shards merged and what is missing counted (rank 0)."""
    if ranks.rank == 0:
        _merge_shards(db)
        # create it, or refuse a damaged, foreign or other-settings one, before the others read it
        store = Store(db, __version__)
        try:
            check_settings(store, config)
        finally:
            store.close()
    ranks.barrier()
    if ranks.world > 1:
        main = Store(db, __version__)
        try:
            already = {key: main.finished_images(*key) for key in _work_keys(config)}
            already.update({model: main.image_decisions(model) for model in config.models})
        finally:
            main.close()
        store = Store(shard_path(db, ranks.rank), __version__)
    else:
        already = {}
        store = Store(db, __version__)
    try:
        summary = _run(
            config, source, store, already, ranks, device, show_progress, should_stop, maps_folder(db)
        )
    finally:
        store.close()
    ranks.barrier()
    if ranks.rank == 0 and ranks.world > 1:
        _merge_shards(db)
    if ranks.rank == 0 and not summary["stopped"]:
        store = Store(db, __version__)
        try:
            summary["missing"] = missing_work(store, config, source.ids)
        finally:
            store.close()
    ranks.barrier()
    return summary


def _work_keys(config: StudyConfig):
    return [
        (model, method, steps, tuple(counts))
        for model in config.models
        for method in config.methods
        if config.applies(model, method)
        for steps, counts in config.runs(method)
    ]


def _versions(config: StudyConfig) -> dict:
    """The versions a run's numbers depend on, for its row in the runs table."""
    from importlib import metadata

    versions = {"idgi_fast": __version__, "torch": torch.__version__}
    packages = ["triton", "pytorch-msssim", "pillow"] + (
        ["torchvision"] if any(m in ZOO for m in config.models) else []
    )
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def _run(
    config,
    source: ImageSource,
    store: Store,
    already: dict,
    ranks: Ranks,
    device,
    show_progress,
    should_stop,
    maps: Path,
) -> dict:
    run = store.start_run(config.to_dict(), _versions(config), str(device), ranks.rank, ranks.world)
    started = time.perf_counter()
    summary = {"images_done": 0, "images_skipped_as_done": 0, "images_excluded": 0, "stopped": False}
    try:
        with _StopRequests() as stop:
            wanted = None if config.save_maps else set(source.ids[: config.preview_images])
            for model_name in config.models:
                model = load_model(model_name, config.weights.get(model_name), device)
                decisions = {**already.get(model_name, {}), **store.image_decisions(model_name)}
                mine = range(ranks.rank, len(source.ids), ranks.world)
                for method in config.methods:
                    if not config.applies(model_name, method):
                        continue
                    for steps, counts in config.runs(method):
                        done = store.finished_images(model_name, method, steps, counts) | already.get(
                            (model_name, method, steps, tuple(counts)), set()
                        )
                        todo = [
                            i
                            for i in mine
                            if source.ids[i] not in done and decisions.get(source.ids[i], "used") == "used"
                        ]
                        summary["images_skipped_as_done"] += sum(source.ids[i] in done for i in mine)
                        bar = progress(
                            total=len(todo),
                            desc=f"{model_name} {method} steps={steps}",
                            unit="image",
                            enabled=show_progress,
                        )
                        with bar:
                            for start in range(0, len(todo), config.images_per_batch):
                                if stop.requested or (should_stop is not None and should_stop()):
                                    summary["stopped"] = True
                                    return summary
                                batch_started = time.perf_counter()
                                loaded = source.load(todo[start : start + config.images_per_batch], model)
                                new_decisions = _filter(model, loaded, decisions, config.only_correct, device)
                                keep = [j for j, image in enumerate(loaded.ids) if decisions[image] == "used"]
                                summary["images_excluded"] += len(new_decisions) - sum(
                                    row[4] == "used" for row in new_decisions
                                )
                                results = []
                                if keep:
                                    images = loaded.images[keep].to(device)
                                    labels = loaded.labels[keep].to(device)
                                    results = _explain_and_score(
                                        config,
                                        model,
                                        images,
                                        labels,
                                        method,
                                        steps,
                                        counts,
                                        [loaded.ids[j] for j in keep],
                                        model_name,
                                        maps,
                                        wanted,
                                    )
                                seconds = (time.perf_counter() - batch_started) / max(1, len(keep))
                                store.record(run, model_name, method, steps, results, seconds, new_decisions)
                                summary["images_done"] += len(keep)
                                bar.update(len(loaded.ids) + len(loaded.unreadable))
        return summary
    finally:
        store.finish_run(run, time.perf_counter() - started)
