"""The study's work: which (model, method, run step count) each image needs, and what of it a
database lacks."""

from __future__ import annotations

import json

from ..inputs.config import StudyConfig, StudySettings
from ..inputs.named_models import ImageSource
from .database import Store


def work_keys(config: StudySettings) -> list[tuple]:
    """(model, method, run step count, the counts it yields) of every run the study asks for."""
    return [
        (model, method, steps, tuple(counts))
        for model in config.models
        for method in config.methods
        if config.applies(model, method)
        for steps, counts in config.runs(method)
    ]


def missing_work(store: Store, config: StudySettings, ids: list[str] | int) -> list[dict]:
    """Each (model, method, run step count) of `config` over the images `ids` that lacks images:
    which counts it should yield, how many images it needs (those not left out as
    misclassified or unreadable) and how many of them are not done. `ids` may be only the
    number of images, for a study of a user's data set (whose ids the database does not list;
    its identity sees that every image the database holds is one of them)."""
    missing = []
    for model in config.models:
        decisions = store.image_decisions(model)
        if isinstance(ids, int):
            needed = ids - sum(status != "used" for status in decisions.values())
        else:
            needed = [image for image in ids if decisions.get(image, "used") == "used"]
        for method in config.methods:
            if not config.applies(model, method):
                continue
            for steps, counts in config.runs(method):
                done = store.finished_images(model, method, steps, counts)
                if isinstance(ids, int):
                    absent = needed - len(done)
                else:
                    absent = sum(image not in done for image in needed)
                if absent:
                    missing.append(
                        {
                            "model": model,
                            "method": method,
                            "steps": steps,
                            "counts": counts,
                            "missing": absent,
                            "images": needed if isinstance(needed, int) else len(needed),
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


def latest_source(store: Store) -> tuple[StudySettings, ImageSource | int] | str:
    """The latest run's configuration and its images — for a study of the user's own data only
    their number (the database does not list them) — or why they cannot be rebuilt."""
    row = store.connection.execute("SELECT config FROM runs ORDER BY run DESC LIMIT 1").fetchone()
    if row is None:
        return "no run is recorded in it"
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(row[0]).items()}
    try:
        if "data" in config:  # idgi_fast.study.run: the run config holds the data set's identity
            items = config.pop("data")["items"]
            config.pop("classes", None)
            return StudySettings(**config), items
        classes = config.pop("classes", None)  # a model given by import spec: its class ids
        config = StudyConfig(**config)
        return config, ImageSource(config, classes)
    except (OSError, ValueError, TypeError) as error:  # the images have moved, or an older configuration
        return f"its images cannot be listed ({error})"


def incomplete_work(store: Store) -> tuple[str | None, str | None]:
    """(what the latest run's settings ask for that the database lacks, in words, or None when
    the study is complete; why completeness could not be checked, or None)."""
    found = latest_source(store)
    if isinstance(found, str):
        return None, found
    config, source = found
    missing = missing_work(store, config, source if isinstance(source, int) else source.ids)
    return (describe_missing(missing) if missing else None), None
