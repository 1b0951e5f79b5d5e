"""Along the user's `images` (or explain's `inputs`): which rooms of idgi_fast a call visits, and
how often the request climbs back up to be checked again (issue 45, item 2).

A call is *on the path* when one of its arguments is a tensor sharing the user's tensor's memory
and shape (the object itself, a view, or what a check returned unchanged). Consecutive calls in
one file are one *stay*. A file's *floor* is its height in the package's import graph (grimp):
0 for a file that imports nothing of ours, else one more than the highest file it imports.
Two counts:

- climbs: stays followed by a stay on a higher floor (the walk going back up a floor);
- checks below the door: calls of a checking function (check_*, resolve_*, validate_*, with or
  without a leading underscore), on the path or not, after the first call on the path that does
  the work (is not a check): the request checked again by a layer that should trust it. Checks
  of what the model computed (COMPUTED_CHECKS) are not counted.

    .venv/bin/python bench/tools/request_climbs.py            # evaluate and explain, SceneNet, 2 scenes
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import grimp
import torch

import idgi_fast
from idgi_fast import evaluate, explain
from idgi_fast.data.scenes import generate_scenes
from idgi_fast.models import load_model

PACKAGE = Path(idgi_fast.__file__).resolve().parent
CHECKING = re.compile(r"^_?(check|resolve|validate)")
# checks of what the model computed (its logits, the path's gradients), not of the request: they
# belong where the values appear
COMPUTED_CHECKS = {"check_logits", "check_path_finite"}


def floors() -> dict[str, int]:
    """Each module's height in idgi_fast's import graph (cycles broken by visiting order)."""
    graph = grimp.build_graph("idgi_fast")
    height: dict[str, int] = {}

    def visit(module: str, seen: frozenset) -> int:
        if module in height:
            return height[module]
        below = [m for m in graph.find_modules_directly_imported_by(module) if m not in seen]
        height[module] = 1 + max((visit(m, seen | {module}) for m in below), default=-1)
        return height[module]

    for module in graph.modules:
        visit(module, frozenset())
    return height


def _module_of(filename: str) -> str | None:
    path = Path(filename).resolve()
    if PACKAGE not in path.parents:
        return None
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def trace(entry, tensor: torch.Tensor) -> list[tuple[str, str, bool]]:
    """(module, function, on the path) of every idgi_fast call on the path of `tensor` and of
    every checking function wherever called, in call order (the model's forward left out)."""
    pointer, shape, calls = tensor.data_ptr(), tuple(tensor.shape), []

    def on_path(value) -> bool:
        return isinstance(value, torch.Tensor) and value.data_ptr() == pointer and tuple(value.shape) == shape

    def profile(frame, event, _):
        if event != "call":
            return
        module = _module_of(frame.f_code.co_filename)
        if module is None or frame.f_code.co_name == "forward":
            return
        arguments = frame.f_code.co_varnames[: frame.f_code.co_argcount + frame.f_code.co_kwonlyargcount]
        path = any(on_path(frame.f_locals.get(name)) for name in arguments)
        if path or CHECKING.match(frame.f_code.co_name):
            calls.append((module, frame.f_code.co_name, path))

    sys.setprofile(profile)
    try:
        entry()
    finally:
        sys.setprofile(None)
    return calls


def counts(calls: list[tuple[str, str, bool]], height: dict[str, int]) -> dict[str, int]:
    """Stays, rooms and climbs of the path; checks after the first working call on it."""
    path = [(module, name) for module, name, on_path in calls if on_path]
    stays = [module for i, (module, _) in enumerate(path) if i == 0 or path[i - 1][0] != module]
    climbs = sum(height[b] > height[a] for a, b in zip(stays, stays[1:]))
    working = next(
        (i for i, (_, name, on_path) in enumerate(calls[1:], 1) if on_path and not CHECKING.match(name)),
        len(calls),
    )
    rechecks = [
        f"{m}.{name}"
        for m, name, _ in calls[working:]
        if CHECKING.match(name) and name not in COMPUTED_CHECKS
    ]
    return {
        "calls": len(path),
        "stays": len(stays),
        "rooms": len(set(stays)),
        "climbs": climbs,
        "checks below the door": len(rechecks),
        "which": sorted(set(rechecks)),
    }


def main() -> None:
    model = load_model("scenenet")
    scenes = generate_scenes(2, seed=1)
    images, targets = scenes.images, scenes.labels
    attribution = explain(model, images, target=targets, steps=8).idgi
    height = floors()
    entries = {
        "evaluate (insertion, deletion, sic, aic; both axes)": lambda: evaluate(
            model, images, attribution, targets, ["insertion", "deletion", "sic", "aic"], webp_method=0
        ),
        "explain (ig + idgi, steps 8)": lambda: explain(model, images, target=targets, steps=8),
    }
    for name, entry in entries.items():
        found = counts(trace(entry, images), height)
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in found.items() if k != "which"))
        for check in found["which"]:
            print(f"    re-checked by {check}")


if __name__ == "__main__":
    main()
