"""The `idgi-fast` command."""

from __future__ import annotations

import argparse
import errno
import math
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from .methods import METHOD_NAMES
from .models import MODEL_NAMES
from .models.zoo import ZooUnavailable
from .ops.backends import BACKENDS
from .outputs import OUTPUTS
from .recipes import DEFAULT_NOISE, RECIPES, RECIPES_HELP, recipe
from .reference.metrics.insertion import CANVASES
from .reference.metrics.pic import INFORMATION_AXES, PROFILES
from .study.store import IncompatibleDatabase


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ {low}, got {text}")
    return value


def _subset(what: str, allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of names, each one of `allowed`."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names or any(name not in allowed for name in names):
            raise argparse.ArgumentTypeError(
                f"{what} must be a comma-separated subset of {','.join(allowed)}; got {text!r}"
            )
        return names

    return parse


_methods = _subset("methods", METHOD_NAMES)


def _study_methods(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in RECIPES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"methods: {', '.join(unknown) or repr(text)} not known; {RECIPES_HELP}"
        )
    return list(dict.fromkeys(names))


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number ≥ 0, got {text!r}")
    return value


def _step_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        counts = []
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(
            f"steps must be comma-separated positive integers, e.g. 8,32; got {text!r}"
        )
    return counts


_models = _subset("models", MODEL_NAMES)
STUDY_METRICS = ("insertion", "deletion", "sic", "aic", "localization")


def _study_metrics(text: str) -> list[str]:
    if text.strip() == "none":
        return []
    return _subset("metrics", STUDY_METRICS)(text)


def _device(text: str):
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"expected cpu, cuda or cuda:N, got {text!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: no CUDA device is available here; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: only {torch.cuda.device_count()} CUDA device(s) here")
    return device


def _weights(values: list[str] | None, models: list[str]) -> dict:
    """`--weights SPEC` or `--weights MODEL=SPEC`, repeatable, into model → spec. Without MODEL=,
    a weights file applies to every model being run (SceneNet included) and a torchvision name
    to every zoo model; a spec that fits none of them is refused, never ignored."""
    from .models import ZOO
    from .models.zoo import is_weights_file

    chosen, for_all = {}, None
    for value in values or []:
        model, sep, spec = value.partition("=")
        if sep and (model in MODEL_NAMES or model in models):
            if model not in models:
                raise ValueError(
                    f"--weights {value}: {model} is not among the models being run ({','.join(models)})"
                )
            chosen[model] = spec
        else:
            for_all = value
    if for_all is not None:
        takers = [
            m
            for m in models
            if is_weights_file(for_all) or m in ZOO or m.startswith(("torchvision:", "timm:"))
        ]
        if not takers:
            raise ValueError(
                f"--weights {for_all}: {','.join(models)} take a weights file (a path such as "
                "./scenenet.pt), not a torchvision weights name"
            )
        chosen = {**{m: for_all for m in takers}, **chosen}
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idgi-fast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="explain held-out synthetic scenes with all six methods; figure + table"
    )
    demo.add_argument(
        "--images", type=_positive_int, default=6, help="number of scenes (default 6, one per class)"
    )
    demo.add_argument(
        "--first-scene",
        type=_non_negative_int,
        default=0,
        help="index of the first held-out scene (default 0)",
    )
    demo.add_argument("--steps", type=_positive_int, default=128, help="path intervals m (default 128)")
    demo.add_argument(
        "--methods",
        type=_methods,
        default=list(METHOD_NAMES),
        help=f"comma-separated: {','.join(METHOD_NAMES)}",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("idgi_demo"), help="output folder (default ./idgi_demo)"
    )
    demo.add_argument("--batch-size", type=_positive_int, default=None, help="path points per model call")
    demo.add_argument("--output", choices=OUTPUTS, default="probability")
    demo.add_argument("--backend", choices=BACKENDS, default="auto")
    demo.add_argument(
        "--insertion-canvas",
        choices=CANVASES,
        default="blur",
        help="insertion/deletion canvas (default blur: SceneNet never saw black backgrounds)",
    )
    demo.add_argument(
        "--pic-profile",
        choices=PROFILES,
        default="blur",
        help="SIC/AIC bokeh profile (pair needs scipy: pip install 'idgi-fast[pair]')",
    )
    demo.add_argument(
        "--webp-method",
        type=int,
        choices=range(7),
        default=0,
        metavar="0-6",
        help="WebP encoder effort for the entropy axis (default 0, fastest; 4 is the library default)",
    )

    run = commands.add_parser(
        "run",
        help="the study: models × methods × step counts, attributions and metrics "
        "into a SQLite database; re-running resumes",
    )
    run.add_argument(
        "--db",
        type=Path,
        default=Path("idgi_study/study.sqlite"),
        help="results database (default idgi_study/study.sqlite); an existing one is resumed",
    )
    run.add_argument(
        "--models",
        type=_models,
        default=None,
        help="comma-separated: scenenet (the embedded model, default) or torchvision's densenet121, "
        "densenet169, densenet201, inception_v3, mobilenet_v2, resnet50, resnet101, resnet152, "
        "vgg16, vgg19 (need --data and pip install 'idgi-fast[zoo]')",
    )
    run.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="SPEC",
        help="a model by import spec, beside --models: torchvision:NAME (any torchvision classifier, with "
        "its weights' evaluation transform), timm:NAME (pip install 'idgi-fast[timm]'), "
        "file.py:factory or package.module:factory (docs/own-model.md); repeatable",
    )
    run.add_argument(
        "--weights",
        action="append",
        default=None,
        metavar="[MODEL=]WEIGHTS",
        help="a state-dict file (every model being run, SceneNet included), or for the zoo a torchvision "
        "enum member (default IMAGENET1K_V1; DEFAULT = the newest) or random; MODEL= limits it to one "
        "model; repeatable",
    )
    run.add_argument(
        "--methods",
        type=_study_methods,
        default=None,
        help=f"comma-separated (default {','.join(METHOD_NAMES)}); {RECIPES_HELP}",
    )
    run.add_argument(
        "--noise-samples",
        type=_positive_int,
        default=None,
        help=f"noise tunnels: noisy copies per image (default {DEFAULT_NOISE['samples']})",
    )
    run.add_argument(
        "--noise-stdev",
        type=_non_negative_float,
        default=None,
        help=f"noise tunnels: the noise's standard deviation, pixel units (default {DEFAULT_NOISE['stdev']})",
    )
    run.add_argument(
        "--noise-seed",
        type=_non_negative_int,
        default=None,
        help="noise tunnels: the seed (each image's noise is keyed by its id; default 0)",
    )
    run.add_argument(
        "--steps",
        type=_step_counts,
        default=None,
        help="comma-separated step counts (default 8,32); for IG and Blur IG each must divide the largest",
    )
    run.add_argument(
        "--images",
        type=_positive_int,
        default=None,
        help="synthetic scenes (default 64), or at most this many images of --data",
    )
    run.add_argument(
        "--data",
        type=Path,
        default=None,
        help="an image folder (ImageNet validation: class sub-folders, or flat with --labels)",
    )
    run.add_argument("--labels", type=Path, default=None, help="flat folder: file of filename<TAB>wnid lines")
    run.add_argument("--wnids", type=Path, default=None, help="class ids in class-index order, one per line")
    run.add_argument(
        "--resize",
        type=_positive_int,
        default=None,
        help="folder images: shorter side (default: the model's, 256 or 342 for inception_v3)",
    )
    run.add_argument(
        "--crop",
        type=_positive_int,
        default=None,
        help="folder images: centre crop (default: the model's, 224 or 299 for inception_v3)",
    )
    run.add_argument(
        "--save-maps",
        action="store_true",
        help="also write every saliency map (float32 .npy) and input (PNG) to <db stem>_maps/",
    )
    run.add_argument(
        "--keep-misclassified",
        action="store_true",
        help="also explain images the model gets wrong (default: only correct ones)",
    )
    run.add_argument(
        "--images-per-batch",
        type=_positive_int,
        default=16,
        help="images explained and scored together, written in one transaction (default 16)",
    )
    run.add_argument("--backend", choices=BACKENDS, default="auto")
    run.add_argument(
        "--metrics",
        type=_study_metrics,
        default=None,
        help=f"comma-separated: {','.join(STUDY_METRICS)} (default insertion,deletion,sic,aic; localization "
        "needs object masks: the synthetic scenes have them), or none (attributions only; add --save-maps)",
    )
    run.add_argument(
        "--device",
        type=_device,
        default=None,
        help="cpu, cuda or cuda:N (default: cuda:LOCAL_RANK when CUDA is available, else cpu)",
    )
    run.add_argument(
        "--no-graphs",
        dest="graphs",
        action="store_const",
        const=False,
        default=None,
        help="run without CUDA graphs (default: on CUDA each fixed-shape chunk is captured, then replayed)",
    )
    run.add_argument(
        "--information",
        type=_subset("information axes", INFORMATION_AXES),
        default=None,
        help="SIC/AIC axes: entropy,msssim (default both)",
    )
    run.add_argument(
        "--schedule",
        action="append",
        type=Path,
        default=None,
        metavar="FILE",
        help="a fitted step schedule (`idgi-fast schedule fit`): its method runs over it as "
        "<method>@<file stem> beside the uniform step counts, on the model it was fitted for; repeatable",
    )
    run.add_argument(
        "--estimate",
        type=_positive_int,
        nargs="?",
        const=4,
        default=None,
        metavar="IMAGES",
        help="project the run's wall time and database size from its first IMAGES images (default 4) "
        "through every model, method and step count on this device, print it and exit; the database "
        "is only read",
    )
    run.add_argument(
        "--preset",
        choices=["paper"],
        default=None,
        help="paper: the IDGI reproducibility study's grid — the ten zoo models, three methods ± IDGI, "
        "steps 8,16,32,64,128, insertion, SIC and AIC on both axes, JPEG stability, every image each model "
        "classifies correctly (needs --data); flags given beside it override it",
    )

    schedule = commands.add_parser("schedule", help="step schedules fitted once per model and method")
    actions = schedule.add_subparsers(dest="action", required=True)
    fitting = actions.add_parser(
        "fit",
        help="fit a schedule of --steps intervals for --method on --model from a few images, as JSON "
        "(needs pip install 'idgi-fast[schedules]')",
    )
    fitting.add_argument("--method", choices=METHOD_NAMES, required=True)
    fitting.add_argument("--steps", type=_positive_int, required=True, help="intervals m of the schedule")
    fitting.add_argument("--model", choices=MODEL_NAMES, default="scenenet")
    fitting.add_argument(
        "--weights", default=None, help="as for run (a state-dict file or a torchvision name)"
    )
    fitting.add_argument(
        "--images",
        type=_positive_int,
        default=16,
        help="images to fit on (default 16): synthetic scenes of seed 2 (the study scores seed 1), or the "
        "first of --data from --first-image; keep them apart from the images you score",
    )
    fitting.add_argument("--data", type=Path, default=None, help="an image folder, as for run")
    fitting.add_argument("--first-image", type=_non_negative_int, default=0)
    fitting.add_argument(
        "--grid-steps", type=_positive_int, default=128, help="the dense uniform grid (default 128)"
    )
    fitting.add_argument(
        "--rule", choices=("left", "right", "trapezoid"), default="left", help="IG's rule (default left)"
    )
    fitting.add_argument("--output", choices=OUTPUTS, default="probability")
    fitting.add_argument("--out", type=Path, required=True, help="the schedule file to write (JSON)")

    report = commands.add_parser("report", help="the study's tables from its database, as Markdown and CSV")
    report.add_argument("db", type=Path, help="the database `idgi-fast run` wrote")
    report.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the database's folder)"
    )
    report.add_argument(
        "--resamples",
        type=_positive_int,
        default=1000,
        help="bootstrap resamples of the images for the claims table's intervals (default 1000)",
    )
    report.add_argument(
        "--export",
        choices=("parquet",),
        default=None,
        help="also write every per-image score as scores.parquet (long format, for pandas, polars or "
        "DuckDB; needs pyarrow: pip install 'idgi-fast[parquet]')",
    )

    train = commands.add_parser("train-toy", help="retrain the embedded SceneNet reproducibly")
    train.add_argument(
        "--out", type=Path, default=None, help="weights file (default: the packaged scenenet.pt)"
    )
    train.add_argument("--train-images", type=_positive_int, default=9000)
    train.add_argument("--held-out-images", type=_positive_int, default=1200)
    train.add_argument("--epochs", type=_positive_int, default=12)
    train.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except (
        FileNotFoundError,
        ValueError,
        ZooUnavailable,
        IncompatibleDatabase,
    ) as error:  # bad input: the message says the fix
        print(f"idgi-fast: error: {error}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.DatabaseError) as error:
        if _disk_full(error):
            print(
                f"idgi-fast: error: the disk is full ({error}). Every batch written before is kept: free "
                "some space and run the same command again to go on.",
                file=sys.stderr,
            )
            return 3
        if isinstance(error, sqlite3.Error):  # a damaged page quick_check did not see shows up when read
            print(
                f"idgi-fast: error: the study database cannot be used ({error}). Restore it from a copy, "
                "or write to a new --db; what was written before is kept.",
                file=sys.stderr,
            )
        else:  # a path that cannot be read or written: permissions, a missing folder
            print(f"idgi-fast: error: {error}", file=sys.stderr)
        return 2


def _disk_full(error: Exception) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return "full" in str(error)
    return getattr(error, "errno", None) == errno.ENOSPC


def _study_config(args):
    """`idgi-fast run`'s StudyConfig: the preset's settings (else StudyConfig's defaults, with
    the CLI's metric options), every flag the user gave on top."""
    from .study.config import PRESETS, StudyConfig

    fields = dict(PRESETS[args.preset]) if args.preset else {}
    fields.setdefault(
        "metric_options", {"insertion_canvas": "blur", "information": INFORMATION_AXES, "webp_method": 0}
    )
    fields["metric_options"] = dict(fields["metric_options"])
    if args.information:
        fields["metric_options"]["information"] = tuple(args.information)
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
        from .schedules import Schedule

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
    return StudyConfig(
        **fields,
        weights=_weights(args.weights, models),
        noise=_noise_settings(args, fields.get("methods", METHOD_NAMES)),
        images_per_batch=args.images_per_batch,
        backend=args.backend,
        graphs=args.graphs,
        data_root=None if args.data is None else str(args.data),
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


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _print_estimate(config, db: Path, probe: int, device=None) -> int:
    from .study.estimate import estimate_study
    from .tables import markdown_table

    found = estimate_study(config, db, probe, device)
    print(
        f"estimate on {found.device} from the first {found.probe_images} image(s) through every model, "
        f"method and step count (the probe took {_duration(found.probe_seconds)}):\n"
    )
    print(markdown_table(found.rows, list(found.rows[0])) if found.rows else "(no work)")
    print(
        f"\nprojected: {_duration(found.seconds)} wall time ({_duration(found.overhead_seconds)} of it "
        f"loading models and outside batches), database {found.database_bytes / 1e6:.1f} MB. "
        f"Nothing was written to {db}."
    )
    return 0


def _fit_schedule(args) -> int:
    from .models import load_model
    from .schedules import fit
    from .study.config import StudyConfig
    from .study.named import ImageSource

    if args.out.is_dir() or not args.out.parent.is_dir():
        raise ValueError(f"--out {args.out}: give a file path in an existing folder for the schedule (JSON)")
    model = load_model(args.model, args.weights, "cpu")
    if args.data is None:
        from .data.scenes import generate_scenes
        from .metrics.stability import quantised

        if args.model != "scenenet":
            raise ValueError(f"{args.model} classifies ImageNet images: give an image folder with --data")
        scenes = generate_scenes(args.images, seed=2, start=args.first_image)
        images, targets = quantised(scenes.images), scenes.labels
    else:
        config = StudyConfig(
            models=(args.model,), data_root=str(args.data), images=args.images, first_image=args.first_image
        )
        source = ImageSource(config)
        loaded = source.load(list(range(len(source.ids))), args.model)
        images, targets = loaded.images, loaded.labels
    params = {"rule": args.rule} if args.method == "ig" else {}
    schedule = fit(
        model,
        images,
        targets,
        args.method,
        args.steps,
        grid_steps=args.grid_steps,
        output=args.output,
        model_name=args.model,
        **params,
    )
    schedule.save(args.out)
    bound, fitted = schedule.fit["bound_uniform"], schedule.fit["bound_fitted"]
    print(
        f"{args.out}: {args.method} on {args.model}, m = {args.steps}, fitted on {images.shape[0]} images; "
        f"error bound {bound:.4g} uniform → {fitted:.4g} fitted; positions "
        + ", ".join(f"{a:.3f}" for a in schedule.positions)
    )
    return 0


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(
            images=args.images,
            steps=args.steps,
            methods=args.methods,
            out=args.out,
            first_scene=args.first_scene,
            batch_size=args.batch_size,
            backend=args.backend,
            output=args.output,
            insertion_canvas=args.insertion_canvas,
            pic_profile=args.pic_profile,
            webp_method=args.webp_method,
        )
    elif args.command == "run":
        from .study import run_study

        config = _study_config(args)
        if args.estimate is not None:
            return _print_estimate(config, args.db, args.estimate, args.device)
        summary = run_study(config, args.db, device=args.device)
        missing = summary.get("missing", [])
        if missing:
            from .study.work import describe_missing

            print(
                f"idgi-fast: error: the run ended but work is missing from {args.db}: "
                f"{describe_missing(missing)}. Run the same command again to finish it.",
                file=sys.stderr,
            )
            return 1
        state = "stopped early; run the same command again to finish" if summary["stopped"] else "finished"
        rank = f"rank {os.environ['RANK']}/{os.environ['WORLD_SIZE']}: " if "RANK" in os.environ else ""
        print(
            f"{rank}{state}: {summary['images_done']} image runs done now, "
            f"{summary['images_skipped_as_done']} "
            f"already in {args.db}, {summary['images_excluded']} images left out (see its images table)",
            flush=True,
        )
        return 130 if summary["stopped"] else 0
    elif args.command == "schedule":
        return _fit_schedule(args)
    elif args.command == "report":
        from .study.report import build_report

        if args.export:
            from .study.export import _pyarrow

            _pyarrow()  # a missing pyarrow is said before the report's work, not after
        report = build_report(args.db, resamples=args.resamples)
        written = report.write(args.out or args.db.parent)
        if args.export:
            from .study.export import export_study

            print(f"scores: {export_study(args.db, args.out or args.db.parent, args.export)}")
        figures = [path.name for path in written if path.suffix == ".png"]
        print(
            f"report: {written[-1]}, {sum(path.suffix == '.csv' for path in written)} CSV tables"
            + (f", figures {', '.join(figures)}" if figures else "")
        )
        if report.unchecked:
            print(
                f"idgi-fast: warning: could not check that the study is complete: {report.unchecked}",
                file=sys.stderr,
            )
        if report.incomplete:
            print(
                f"idgi-fast: warning: the study is incomplete; not in {args.db} yet: {report.incomplete}. "
                "Run the same `idgi-fast run` command again to finish it.",
                file=sys.stderr,
            )
    elif args.command == "train-toy":
        from .models.toy import weights_path
        from .models.train import train_scenenet

        card = train_scenenet(
            args.out or weights_path(),
            train_images=args.train_images,
            held_out_images=args.held_out_images,
            epochs=args.epochs,
            seed=args.seed,
        )
        print(
            f"held-out accuracy {card['held_out']['accuracy']:.4f} on {card['held_out']['images']} scenes; "
            f"weights written to {args.out or weights_path()}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
