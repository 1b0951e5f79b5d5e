"""Models by import spec, for `idgi-fast run --model SPEC`: any torchvision classifier
(`torchvision:NAME`), any timm model (`timm:NAME`, with timm installed), or a factory of the
user's (`path/to/file.py:factory`, `package.module:factory`).

Each resolves to a `SpecModel`: the network wrapped as a `StudyModel` (images in [0, 1], its
normalisation inside, logits out), with the evaluation transform its images get from an image
folder (`resize`, `crop`, `interpolation` as attributes, read by the study's image loading) and
its class ids when known. A factory returns an `nn.Module`, or a dict with "model" and any of
"classes" (class ids in output order), "normalize" ((mean, std)), "resize", "crop",
"interpolation" ("bilinear" or "bicubic").

Weights: torchvision's default is its DEFAULT member; "random" is the random initialisation
under seed 0 (the same weights on every run, so that a study of them resumes); a state-dict
file is read with `torch.load(weights_only=True)` and checked key by key.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..data.folders import imagenet_wnids
from .adapt import StudyModel
from .weights import load_state_file
from .zoo import is_weights_file

RANDOM = "random"
FACTORY_MODULE_PREFIX = "idgi_fast_factory_"  # the module a `file.py:factory` spec is imported as
INTERPOLATIONS = ("bilinear", "bicubic")


def is_spec(name: str) -> bool:
    """Whether a --model value is an import spec rather than one of the named models."""
    return ":" in name


@dataclass
class SpecModel:
    model: StudyModel  # with resize, crop and interpolation attributes
    classes: list[str] | None  # class ids in output order (ImageNet-1k's wnids for torchvision, timm)
    package: str | None  # whose version the architecture depends on
    preprocessing: dict  # normalize, resize, crop, interpolation: part of the model's identity


def resolve_spec(spec: str, weights: str | Path | None = None) -> SpecModel:
    """The model a spec names, in eval mode on the CPU, with `weights` loaded (module docstring)."""
    with torch.random.fork_rng(devices=[]):  # "random" weights: seed 0, and the caller's RNG untouched
        torch.manual_seed(0)
        return _resolve(spec, weights)


def _resolve(spec: str, weights) -> SpecModel:
    kind, _, name = spec.partition(":")
    if kind == "torchvision":
        return _torchvision(name, weights)
    if kind == "timm":
        return _timm(name, weights)
    return _factory(spec, weights)


def _wrapped(network: nn.Module, classes, package, normalize, resize, crop, interpolation) -> SpecModel:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    model = StudyModel(network.eval(), normalize).eval()
    model.resize, model.crop, model.interpolation = int(resize), int(crop), interpolation
    preprocessing = {
        "normalize": None if model.normalize is None else [list(part) for part in model.normalize],
        "resize": int(resize),
        "crop": int(crop),
        "interpolation": interpolation,
    }
    return SpecModel(model, None if classes is None else [str(c) for c in classes], package, preprocessing)


def _load_file(network: nn.Module, weights, spec: str) -> None:
    if not Path(weights).is_file():
        raise FileNotFoundError(f"weights file {weights} for {spec} not found")
    load_state_file(network, weights, spec, spec)


def _torchvision(name: str, weights) -> SpecModel:
    from .zoo import _torchvision_models

    models = _torchvision_models()
    known = models.list_models(module=models)
    if name not in known:
        raise ValueError(
            f"torchvision:{name}: not a torchvision classification model; choose one of {', '.join(known)}"
        )
    enum = models.get_model_weights(name)
    if weights is None or (not is_weights_file(weights) and str(weights) != RANDOM):
        member = str(weights or "DEFAULT").rpartition(".")[2]
        try:
            chosen = enum.DEFAULT if member == "DEFAULT" else enum[member]
        except KeyError:
            raise ValueError(
                f"torchvision:{name} has no weights {member!r}; choose one of "
                f"{', '.join(m.name for m in enum)}, DEFAULT, random or a state-dict file"
            ) from None
        network = models.get_model(name, weights=chosen)
    else:
        chosen = enum.DEFAULT  # its evaluation transform; the network starts random
        network = models.get_model(name, weights=None)
        if str(weights) != RANDOM:
            _load_file(network, weights, f"torchvision:{name}")
    transform = chosen.transforms()
    return _wrapped(
        network,
        imagenet_wnids() if len(chosen.meta.get("categories", [])) == 1000 else None,
        "torchvision",
        (tuple(transform.mean), tuple(transform.std)),
        transform.resize_size[0],
        transform.crop_size[0],
        "bicubic" if "BICUBIC" in str(transform.interpolation) else "bilinear",
    )


def _timm(name: str, weights) -> SpecModel:
    try:
        import timm
        import timm.data
    except ImportError as error:
        raise ValueError(f"timm:{name} needs timm: pip install 'idgi-fast[timm]' ({error})") from None
    pretrained = weights is None
    try:
        network = timm.create_model(name, pretrained=pretrained)
    except RuntimeError as error:  # an unknown name
        raise ValueError(f"timm:{name}: {error}") from None
    if weights is not None and str(weights) != RANDOM:
        _load_file(network, weights, f"timm:{name}")
    config = timm.data.resolve_model_data_config(network)
    crop = config["input_size"][-1]
    classes = imagenet_wnids() if getattr(network, "num_classes", None) == 1000 else None
    interpolation = config.get("interpolation", "bicubic")
    return _wrapped(
        network,
        classes,
        "timm",
        (config["mean"], config["std"]),
        math.floor(crop / config.get("crop_pct", 0.875)),  # as timm's own eval transform
        crop,
        interpolation if interpolation in INTERPOLATIONS else "bicubic",
    )


def _import_factory(spec: str):
    where, _, attribute = spec.rpartition(":")
    if not where or not attribute:
        raise ValueError(f"--model {spec}: give path/to/file.py:factory or package.module:factory")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise FileNotFoundError(f"--model {spec}: no file {path}")
            # one name per file in every process (str hashes change with PYTHONHASHSEED); the model's
            # identity leaves it out (study/subjects.parameter_digest): the spec says where it came from
            digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
            module_name = f"{FACTORY_MODULE_PREFIX}{digest}"
            loader = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(loader)
            sys.modules[module_name] = module
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
    except FileNotFoundError:
        raise
    except Exception as error:  # the user's module: any error of theirs is reported, not raised raw
        raise ValueError(
            f"--model {spec}: importing {where} failed: {type(error).__name__}: {error}"
        ) from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"--model {spec}: {where} has no callable {attribute!r}")
    return factory


def _factory(spec: str, weights) -> SpecModel:
    factory = _import_factory(spec)
    try:
        made = factory()
    except Exception as error:
        raise ValueError(f"--model {spec}: the factory failed: {type(error).__name__}: {error}") from None
    found = made if isinstance(made, dict) else {"model": made}
    network = found.get("model")
    if not isinstance(network, nn.Module):
        raise ValueError(
            f"--model {spec}: the factory returned {type(network).__name__}; it must return an nn.Module or "
            "a dict with 'model' (an nn.Module) and optional 'classes', 'normalize', 'resize', 'crop'"
        )
    unknown = sorted(set(found) - {"model", "classes", "normalize", "resize", "crop", "interpolation"})
    if unknown:
        raise ValueError(f"--model {spec}: the factory's dict has unknown keys {unknown}")
    if weights is not None:
        _load_file(network, weights, spec)
    return _wrapped(
        network,
        found.get("classes"),
        None,
        found.get("normalize"),
        found.get("resize", 256),
        found.get("crop", 224),
        found.get("interpolation", "bilinear"),
    )
