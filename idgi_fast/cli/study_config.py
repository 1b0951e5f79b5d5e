"""`idgi-fast run`'s flags into a StudyConfig."""

from __future__ import annotations

from ..methods import METHOD_NAMES
from ..reference.metrics.pic import INFORMATION_AXES
from ..study.inputs.recipes import DEFAULT_NOISE, recipe
from .arguments import weights


def study_config(args):
    """`idgi-fast run`'s StudyConfig: the preset's settings (else StudyConfig's defaults, with
    the CLI's metric options), every flag the user gave on top."""
    from ..study.inputs.config import PRESETS, StudyConfig

    fields = dict(PRESETS[args.preset]) if args.preset else {}
    fields.setdefault(
        "metric_options", {"insertion_canvas": "blur", "information": INFORMATION_AXES, "webp_method": 0}
    )
    fields["metric_options"] = dict(fields["metric_options"])
    if args.information:
        fields["metric_options"]["information"] = tuple(args.information)
    if args.road_percentages is not None:
        fields["metric_options"]["road_percentages"] = tuple(args.road_percentages)
    if args.road_noise is not None:
        fields["metric_options"]["road_noise"] = args.road_noise
    specs = list(dict.fromkeys((args.models or []) + (args.model or [])))
    given = {"models": specs, "methods": args.methods, "steps": args.steps, "images": args.images}
    fields.update({name: tuple(value) for name, value in given.items() if value and name != "images"})
    if args.images is not None:
        fields["images"] = args.images
    elif "images" not in fields:
        fields["images"] = 64 if args.data is None else None
    if args.keep_misclassified:
        fields["only_correct"] = False
    if args.metrics is not None:
        fields["metrics"] = tuple(args.metrics)
    models = list(fields.get("models", StudyConfig.models))
    if args.schedule:
        from ..schedules import Schedule

        fields["schedules"] = {}
        methods = list(fields.get("methods", METHOD_NAMES))
        for path in args.schedule:
            if path.stem in fields["schedules"]:
                raise ValueError(
                    f"--schedule {path}: another schedule file is also named {path.stem!r}, and a "
                    f"schedule's method runs as <method>@<file stem>; rename one of them"
                )
            fitted = Schedule.load(path)
            if fitted.model and fitted.model not in models:
                raise ValueError(
                    f"--schedule {path} was fitted for {fitted.model}, which is not among {models}"
                )
            fields["schedules"][path.stem] = {
                "method": fitted.method,
                "positions": list(fitted.positions),
                "params": fitted.params,
                "model": fitted.model,
            }
            methods.append(f"{fitted.method}@{path.stem}")
        fields["methods"] = tuple(methods)
    data_root = fields.pop("data_root", None) if args.data is None else str(args.data)
    return StudyConfig(
        **fields,
        weights=weights(args.weights, models),
        noise=_noise_settings(args, fields.get("methods", METHOD_NAMES)),
        images_per_batch=args.images_per_batch,
        backend=args.backend,
        graphs=args.graphs,
        precision=args.precision,
        channels_last=args.channels_last,
        data_root=data_root,
        labels_file=None if args.labels is None else str(args.labels),
        wnids_file=None if args.wnids is None else str(args.wnids),
        resize=args.resize,
        crop=args.crop,
        save_maps=args.save_maps,
    )


def _noise_settings(args, methods) -> dict:
    """--noise-* over DEFAULT_NOISE; given without a noise-tunnel method they would change
    nothing, so they are refused rather than ignored."""
    given = {"samples": args.noise_samples, "stdev": args.noise_stdev, "seed": args.noise_seed}
    given = {key: value for key, value in given.items() if value is not None}
    if given and not any(recipe(name.partition("@")[0]).tunnel for name in methods):
        flags = ", ".join(f"--noise-{key}" for key in given)
        raise ValueError(
            f"{flags} set the noise tunnels, but no method runs under one; add one to --methods "
            "(e.g. smoothgrad:ig) or leave the noise flags out"
        )
    return {**DEFAULT_NOISE, **given}
