"""What a study runs: `StudySettings` (methods, step counts, metrics, batching: every study's)
and `StudyConfig` (those plus the named models and their images: `idgi-fast run`), and the
paper's preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ...data.photos import PHOTOS, labels_file, photos_folder
from ...methods import METHOD_NAMES
from ...metrics.options import check_evaluation_settings
from ...models import EFFICIENTNET_LITE0, EMBEDDED_MODEL, IMAGENET_MODELS, MODEL_NAMES, ZOO
from ...models.specs import is_spec
from ...ops.backends import BACKENDS
from ...runtime.precision import check_precision
from ...utils.checks import check_flag
from .recipes import DEFAULT_NOISE, RECIPES, RECIPES_HELP, check_noise_settings, recipe


@dataclass(frozen=True)
class StudySettings:
    """What every study does to each image of each model: methods, step counts, metrics,
    batching. `models` are the models' names in the database."""

    models: tuple[str, ...] = (EMBEDDED_MODEL,)
    methods: tuple[str, ...] = METHOD_NAMES  # or study method names: "smoothgrad:ig", … (recipes.py)
    steps: tuple[int, ...] = (8, 32)
    images_per_batch: int = 16  # images explained and scored together (one transaction each)
    only_correct: bool = True  # explain only images the model classifies correctly
    # also write every saliency map (float32 .npy) and input (PNG) beside the database
    save_maps: bool = False
    # the first images' maps and inputs are written anyway, for the report's saliency grid
    preview_images: int = 8
    stability: bool = True  # JPEG stability: one more explain per batch, of the JPEG round trip (quality 75)
    backend: str = "auto"
    # CUDA graphs for explain and evaluate (None: on CUDA; False: off). Not part of the identity:
    # the results equal the uncaptured ones (docs/backends.md §13)
    graphs: bool | None = None
    # how the model is evaluated in explain and in every scoring pass (docs/backends.md §13); part of
    # the identity. Which images are used (only_correct) is decided at fp32 under every precision
    precision: str = "fp32"
    # the noise tunnels' samples, stdev (pixel units) and seed (docs/extensions.md §9)
    noise: dict = field(default_factory=lambda: dict(DEFAULT_NOISE))
    # fitted step schedules by tag: {"method", "positions", "params", "model"} (schedules.Schedule);
    # a method "<name>@<tag>" runs over one (docs/extensions.md §12)
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
        if not self.models or len(set(self.models)) != len(self.models):
            raise ValueError(f"models must name each model once; got {list(self.models)}")
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
        if self.images_per_batch < 1:
            raise ValueError(f"images_per_batch must be ≥ 1, got {self.images_per_batch}")
        if self.preview_images < 0:
            raise ValueError(f"preview_images must be ≥ 0, got {self.preview_images}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        check_precision(self.precision)
        # a bad option stops before any work; no metrics (attributions only) still checks the options
        check_evaluation_settings(self.metrics or ("insertion",), self.metric_options)
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


@dataclass(frozen=True)
class StudyConfig(StudySettings):
    """What `idgi-fast run` does: the settings over named models (models.MODEL_NAMES, or import
    specs: models/specs.py) and their images. The defaults are the embedded study: SceneNet on 64
    held-out synthetic scenes, small enough for a few minutes on 2 CPU cores."""

    images: int | None = 64  # scenes to run; for an image folder at most this many (None: all)
    first_image: int = 0
    # an image folder (data/folders.py) instead of the synthetic scenes; "photos" (where no such folder
    # exists): the embedded photos (data/photos.py), with their labels
    data_root: str | None = None
    labels_file: str | None = None
    wnids_file: str | None = None
    resize: int | None = None  # folder images: shorter side, then a centre crop (None: each model's own
    crop: int | None = None  # evaluation transform, e.g. 256 → 224, Inception-v3 342 → 299)
    weights: dict = field(default_factory=dict)  # model → weights (models.load_model); absent: the default
    # the models' weights in channels-last memory format (the study builds them, so no user's model is
    # converted); part of the identity, since convolutions then round differently
    channels_last: bool = False

    def __post_init__(self):
        unknown = [m for m in self.models if m not in MODEL_NAMES and not is_spec(m)]
        if unknown or not self.models:
            raise ValueError(
                f"unknown model(s) {unknown or '(none given)'}; choose from {', '.join(MODEL_NAMES)}, or "
                "give an import spec: torchvision:NAME, timm:NAME, file.py:factory, package.module:factory"
            )
        if self.data_root == PHOTOS and not Path(PHOTOS).is_dir() and self.labels_file is None:
            object.__setattr__(self, "data_root", str(photos_folder()))
            object.__setattr__(self, "labels_file", str(labels_file()))
        imagenet = [m for m in self.models if m in IMAGENET_MODELS]
        if imagenet and self.data_root is None:
            raise ValueError(
                f"{', '.join(imagenet)} classify ImageNet images: give the ImageNet validation folder "
                f"(--data FOLDER) or the embedded photos (--data photos); the synthetic scenes are for "
                f"{EMBEDDED_MODEL}"
            )
        if imagenet and EMBEDDED_MODEL in self.models and self.data_root is not None:
            raise ValueError(
                f"{EMBEDDED_MODEL} has other classes than {', '.join(imagenet)} (ImageNet-1k), so one image "
                "folder cannot label both; run them as two studies"
            )
        check_flag("channels_last", self.channels_last)
        stray = [m for m in self.weights if m not in self.models]
        if stray:
            raise ValueError(f"weights given for {stray}, which are not among the models {list(self.models)}")
        if self.images is None and self.data_root is None:
            raise ValueError(
                "images is None (every image of an image folder, as --preset paper has it) but no image "
                "folder is given: pass --data FOLDER, or --images N for N synthetic scenes"
            )
        for name in ("images", "resize", "crop"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be ≥ 1, got {value}")
        super().__post_init__()


# The IDGI reproducibility study's grid (../shared/study, §4.1): the ten zoo models, the three
# methods ± IDGI (IG and Guided IG from a black baseline, every parameter at its default), step
# counts 8 … 128, the ImageNet validation images each model classifies correctly, and the scores it
# reports: insertion, SIC and AIC on the normalised-entropy and the MS-SSIM axes (raw MS-SSIM),
# JPEG stability at quality 75. What its text does not fix is ours: the blur bokeh and insertion
# canvas (docs/semantics.md §6), WebP method 0 for the entropy axis.
PAPER = {
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
# The same grid on the one trained ImageNet network that ships with the package and its photos
# (docs/photos.md), plus localization against our boxes: the study's question, offline on 2 cores.
PRESETS = {
    "paper": PAPER,
    "photos": {
        **PAPER,
        "models": (EFFICIENTNET_LITE0,),
        "data_root": PHOTOS,
        "metrics": PAPER["metrics"] + ("localization",),
    },
}
