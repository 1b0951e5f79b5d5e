"""`idgi-fast`'s subcommands: each takes the parsed flags and returns the exit status."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .study_config import study_config


def info(args) -> int:
    from ..info import main

    return main(["--json"] if args.json else [])


def demo(args) -> int:
    from ..study.demo.demo import run_demo

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
        data=args.data,
    )
    return 0


def run(args) -> int:
    from ..study import run_study

    config = study_config(args)
    if args.estimate is not None:
        return _print_estimate(config, args.db, args.estimate, args.device)
    summary = run_study(config, args.db, device=args.device)
    missing = summary.get("missing", [])
    if missing:
        from ..study.store.work import describe_missing

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


def report(args) -> int:
    from ..study.report.tables import build_report

    if args.export:
        from ..study.report.export import _pyarrow

        _pyarrow()  # a missing pyarrow is said before the report's work, not after
    built = build_report(args.db, resamples=args.resamples)
    written = built.write(args.out or args.db.parent)
    if args.export:
        from ..study.report.export import export_study

        print(f"scores: {export_study(args.db, args.out or args.db.parent, args.export)}")
    figures = [path.name for path in written if path.suffix == ".png"]
    print(
        f"report: {written[-1]}, {sum(path.suffix == '.csv' for path in written)} CSV tables"
        + (f", figures {', '.join(figures)}" if figures else "")
    )
    if built.unchecked:
        print(
            f"idgi-fast: warning: could not check that the study is complete: {built.unchecked}",
            file=sys.stderr,
        )
    if built.incomplete:
        print(
            f"idgi-fast: warning: the study is incomplete; not in {args.db} yet: {built.incomplete}. "
            "Run the same `idgi-fast run` command again to finish it.",
            file=sys.stderr,
        )
    return 0


def train_toy(args) -> int:
    from ..models.toy import weights_path
    from ..models.train import train_scenenet

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


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def _print_estimate(config, db: Path, probe: int, device=None) -> int:
    from ..study.execution.estimate import estimate_study
    from ..utils.tables import markdown_table

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


def fit_schedule(args) -> int:
    from ..models import load_model
    from ..schedules import fit
    from ..study.inputs.config import StudyConfig
    from ..study.inputs.named_models import ImageSource

    if args.out.is_dir() or not args.out.parent.is_dir():
        raise ValueError(f"--out {args.out}: give a file path in an existing folder for the schedule (JSON)")
    model = load_model(args.model, args.weights, "cpu")
    if args.data is None:
        from ..data.scenes import generate_scenes
        from ..metrics.stability import quantised

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
    from ..methods import method_spec

    # --rule is for the methods whose registry entry takes a rule (IG's quadrature)
    params = {"rule": args.rule} if "rule" in method_spec(args.method).defaults else {}
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
