"""`idgi_fast.study.run`: the study over your own model and data — the same loop, database,
resume, torchrun sharding, report and claims as `idgi-fast run` (runner.execute), on objects
instead of names (docs/study.md, "Your own model and data")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from ...methods import METHOD_NAMES
from ...metrics.options import DEFAULT_METRICS
from ...metrics.request import check_evaluation_images
from ...models.adapt import logits_of
from ..inputs.config import StudySettings
from ..inputs.recipes import DEFAULT_NOISE
from ..inputs.subjects import Subject, model_device, user_subject
from ..inputs.user_data import UserData
from .runner import execute

DEFAULT_METRIC_OPTIONS = {"insertion_canvas": "blur", "information": ("entropy", "msssim"), "webp_method": 0}


def run(
    model: Callable | Mapping[str, Callable],
    data,
    db: str | Path,
    *,
    name: str | None = None,
    normalize: Sequence | None = None,
    ids: Sequence | None = None,
    classes: Sequence[str] | None = None,
    methods: Sequence[str] = METHOD_NAMES,
    steps: int | Sequence[int] = (8, 32),
    metrics: Sequence[str] = DEFAULT_METRICS,
    metric_options: dict | None = None,
    images_per_batch: int = 16,
    only_correct: bool = True,
    stability: bool = True,
    save_maps: bool = False,
    preview_images: int = 8,
    backend: str = "auto",
    graphs: bool | None = None,
    precision: str = "fp32",
    noise: dict | None = None,
    device: str | torch.device | None = None,
    show_progress: bool | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Run (or resume) the study of `model` over `data` into the SQLite database `db`.

    model: an `nn.Module` in eval mode, or any callable, taking images (B, C, H, W) in [0, 1] and
        returning logits (B, classes) — a tensor, a tuple or list whose first item is one, or an
        object with `.logits`; or a dict {name: model} of several, each studied in turn. It is
        never modified: on another `device` a copy is used.
    data: a map-style `Dataset`, a `DataLoader` (read by index with its `num_workers`) or tensors
        `(images, labels)` / `(images, labels, masks)` / a dict of them; items `(image, label)`
        or dicts with `image`, `label` and optional `mask` (B, H, W, for "localization") and `id`.
    db: the database; resumed or extended under the same settings, weights and data, else refused.
    name: the model's name in the database (default: its class name). ids: one id per item
    (default: each item's `id`, else its index). normalize: (mean, std) applied inside the model.
    classes: the class names in output order (recorded; checked against the output's width).
    metrics: any of "insertion", "deletion", "sic", "aic", "localization", "road"; () for
        attributions only. metric_options: `evaluate`'s, over the study's defaults (DEFAULT_METRIC_OPTIONS).
    The other arguments are `StudySettings`'. Returns this process's counts (images done, skipped
    as done, left out), whether it stopped early, and the work still missing (rank 0).
    """
    models = _named_models(model, name)
    settings = StudySettings(
        models=tuple(models),
        methods=tuple(methods),
        steps=(steps,) if isinstance(steps, int) else tuple(steps),
        images_per_batch=images_per_batch,
        only_correct=only_correct,
        save_maps=save_maps,
        preview_images=preview_images,
        stability=stability,
        backend=backend,
        graphs=graphs,
        precision=precision,
        noise=dict(DEFAULT_NOISE) if noise is None else {**DEFAULT_NOISE, **noise},
        metrics=tuple(metrics),
        metric_options={**DEFAULT_METRIC_OPTIONS, **(metric_options or {})},
    )
    target = _device(device, next(iter(models.values())))
    source, subjects = _checked_data(data, ids, models, normalize, classes, target, settings)
    identity = source.identity()
    run_config = {
        **settings.to_dict(),
        "data": identity,
        "classes": None if classes is None else list(classes),
    }
    return execute(
        settings,
        subjects,
        source,
        db,
        data=identity,
        run_config=run_config,
        device=target,
        show_progress=show_progress,
        should_stop=should_stop,
    )


def _checked_data(data, ids, models, normalize, classes, target, settings: StudySettings):
    """The data source and the models as subjects, checked against each other: the outputs' width
    against `classes`, masks where localization is asked for."""
    first = next(iter(models.values()))
    parameter = next(
        (p for p in getattr(first, "parameters", lambda: iter(()))() if p.is_floating_point()), None
    )
    source = UserData(data, ids, parameter.dtype if parameter is not None else torch.float32)
    source.normalized = normalize is not None
    subjects = [_cached(user_subject(n, m, normalize)) for n, m in models.items()]
    width = _check_outputs(subjects, source, target, settings)
    if classes is not None and len(classes) != width:
        raise ValueError(
            f"classes names {len(classes)} classes but the model has {width} outputs; give one per output"
        )
    if "localization" in settings.metrics and source.load(source.probes[:1]).masks is None:
        raise ValueError(
            "localization needs object masks: give each data item a 'mask' (H, W) (dict items), or pass "
            "(images, labels, masks); or leave localization out of metrics"
        )
    return source, subjects


def _device(device, model) -> torch.device:
    """The device asked for; else the model's own when it is on an accelerator; else cuda:LOCAL_RANK
    when CUDA is available (one GPU per torchrun rank), else the CPU."""
    import os

    if device is None:
        found = model_device(model)
        if found is not None and found.type != "cpu":
            return found
        if torch.cuda.is_available():
            return torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be cpu, cuda or cuda:N; got {device!r}") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: no CUDA device is available here; use device='cpu'")
    return chosen


def _named_models(model, name: str | None) -> dict[str, Callable]:
    if isinstance(model, Mapping):
        if name is not None:
            raise ValueError("name: give the names as the keys of the model dict, not as name=")
        models = {str(key): value for key, value in model.items()}
    else:
        if name is None:
            name = getattr(model, "__name__", None) or type(model).__name__
        models = {name: model}
    if not models:
        raise ValueError("model: the dict of models is empty; give at least one")
    for key, value in models.items():
        if not key or any(c in key for c in "/\\") or key in (".", ".."):
            raise ValueError(
                f"model name {key!r}: give a non-empty name without '/' or '\\' (it names a folder)"
            )
        if not callable(value):
            raise TypeError(f"model {key!r} is a {type(value).__name__}; give an nn.Module or a callable")
    return models


def _cached(subject: Subject) -> Subject:
    """The subject with its model built once per device (the check and the loop share it)."""
    built = {}

    def build(device: torch.device):
        if device not in built:
            built[device] = subject.build(device)
        return built[device]

    return Subject(subject.name, build, subject.identity, subject.package)


def _check_outputs(
    subjects: list[Subject], source: UserData, device: torch.device, settings: StudySettings
) -> int:
    """Each model's output on the probe items is logits (B, classes) of one width, whose labels
    it holds; the probe items are checked (sizes, [0, 1]) on the way. Returns the width."""
    widths = {}
    for subject in subjects:
        model = subject.build(device)
        loaded = source.load(source.probes[:2], model)
        with torch.no_grad():
            output = logits_of(model(loaded.images.to(device)))
        if output.dim() != 2 or output.shape[0] != len(loaded.ids):
            raise ValueError(
                f"model {subject.name!r} returned shape {tuple(output.shape)} for {len(loaded.ids)} images; "
                "the study needs logits (B, classes), one row per image"
            )
        widths[subject.name] = output.shape[1]
    if len(set(widths.values())) > 1:
        raise ValueError(
            f"the models have different numbers of outputs {widths}; one data set's labels cannot fit all"
        )
    if settings.metrics:  # e.g. images too small for MS-SSIM's scales
        check_evaluation_images(settings.metrics, settings.metric_options, loaded.images)
    source.classes = next(iter(widths.values()))
    source.load(source.probes, None)  # the probe items' labels against the width
    return source.classes
