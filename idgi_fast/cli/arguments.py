"""`idgi-fast`'s argument types: each parses one flag's text or says what it expects."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from ..methods import METHOD_NAMES
from ..models import MODEL_NAMES
from ..study.inputs.recipes import RECIPES, RECIPES_HELP


def positive_int(text: str) -> int:
    return int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    return int_at_least(text, 0)


def int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be an integer ≥ {low}, got {text}")
    return value


def subset(what: str, allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of names, each one of `allowed`."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        if not names or any(name not in allowed for name in names):
            raise argparse.ArgumentTypeError(
                f"{what} must be a comma-separated subset of {','.join(allowed)}; got {text!r}"
            )
        return names

    return parse


methods = subset("methods", METHOD_NAMES)


def study_methods(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in RECIPES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"methods: {', '.join(unknown) or repr(text)} not known; {RECIPES_HELP}"
        )
    return list(dict.fromkeys(names))


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < math.inf:
        raise argparse.ArgumentTypeError(f"expected a finite number ≥ 0, got {text!r}")
    return value


def step_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        counts = []
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError(
            f"steps must be comma-separated positive integers, e.g. 8,32; got {text!r}"
        )
    return counts


models = subset("models", MODEL_NAMES)
STUDY_METRICS = ("insertion", "deletion", "sic", "aic", "localization", "road")


def percentages(text: str) -> list[float]:
    """Comma-separated numbers (ROAD's removal percentages; evaluate checks their range and order)."""
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"percentages must be comma-separated numbers in (0, 100), e.g. 10,20,30,40,50,70,90; "
            f"got {text!r}"
        ) from None


def study_metrics(text: str) -> list[str]:
    if text.strip() == "none":
        return []
    return subset("metrics", STUDY_METRICS)(text)


def device(text: str):
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


def weights(values: list[str] | None, models: list[str]) -> dict:
    """`--weights SPEC` or `--weights MODEL=SPEC`, repeatable, into model → spec. Without MODEL=,
    a weights file applies to every model being run (SceneNet included) and a torchvision name
    to every zoo model; a spec that fits none of them is refused, never ignored."""
    from ..models import ZOO
    from ..models.zoo import is_weights_file

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
