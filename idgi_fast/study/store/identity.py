"""The study's identity: every setting that decides a stored value, recorded in the database
and compared on every run, so that results made under other settings are never mixed."""

from __future__ import annotations

import json
import re

from ..inputs.config import StudySettings
from ..inputs.recipes import recipe
from ..inputs.subjects import Subject
from .database import IncompatibleDatabase, Store

# a database made before these settings were recorded was made under these values
SETTINGS_BEFORE_THEY_WERE_KEPT = {"precision": "fp32", "channels_last": False}


def study_settings(config: StudySettings, subjects: list[Subject], data: dict) -> dict:
    """The study's identity: every setting that decides a stored value. Models, methods, step
    counts and images are not in it (they name the work; more of them is more work); each
    model's weights are, per model, what the images are (`data`, the source's identity), and the
    noise settings once a noise tunnel is run."""
    settings = {
        "data": data,
        "only_correct": config.only_correct,
        "backend": config.backend,
        "precision": config.precision,
        "channels_last": getattr(config, "channels_last", False),  # a user's model is never converted
        "metrics": sorted(config.metrics),
        "metric_options": config.metric_options,
        "stability": config.stability,
        "weights": {subject.name: subject.identity for subject in subjects},
    }
    if any(recipe(method).tunnel is not None for method in config.methods):
        settings["noise"] = config.noise  # decides only the noise tunnels' values
    tags = {recipe(method).schedule for method in config.methods} - {None}
    if tags:  # each schedule by its positions and parameters: the tag names the work
        settings["schedules"] = {tag: config.schedules[tag] for tag in sorted(tags)}
    # through JSON: tuples become lists, as they come back from the database
    return json.loads(json.dumps(settings, sort_keys=True))


# A `file.py:factory` model's identity used to begin with the module name its file was imported
# under, `idgi_fast_factory_<hash of the path>.`, a hash that changed from process to process; stored
# so, it is read without it (and recorded anew by the next run).
_LEGACY_FACTORY_MODULE = re.compile(r"^idgi_fast_factory_\d+\.")


def _differences(stored: dict, current: dict, prefix: str = "") -> list[str]:
    found = []
    for key in sorted(set(stored) | set(current)):
        name = f"{prefix}{key}"
        if prefix in ("weights.", "schedules.") and (key not in stored or key not in current):
            continue  # another model or schedule is more work, not other settings
        if not prefix and key == "schedules" and (key not in stored or key not in current):
            continue
        if not prefix and key == "noise" and (key not in stored or key not in current):
            continue  # without a noise tunnel on one side, no stored value depends on it
        before, now = stored.get(key), current.get(key)
        if prefix == "weights." and isinstance(before, str):
            before = _LEGACY_FACTORY_MODULE.sub("", before)
        if isinstance(before, dict) and isinstance(now, dict):
            found += _differences(before, now, f"{name}.")
        elif before != now:
            found.append(f"{name} is {before!r} there and {now!r} now")
    return found


def check_settings(store: Store, config: StudySettings, subjects: list[Subject], data: dict) -> None:
    """Resume or extend a study only under the settings its stored results were made with; a
    database without recorded settings (a new one, or one from before they were kept) takes
    these."""
    current = study_settings(config, subjects, data)
    stored = store.settings()
    if stored is not None:
        stored = {**SETTINGS_BEFORE_THEY_WERE_KEPT, **stored}
        differences = _differences(stored, current)
        if differences:
            raise IncompatibleDatabase(
                f"{store.path} holds a study made with other settings, and its results would mix with "
                f"these: {'; '.join(differences)}. Run with the database's settings to resume or extend it "
                "(other models, methods, step counts or images are added to it), or write to a new --db file."
            )
        current["weights"] = {**stored["weights"], **current["weights"]}
        if "noise" in stored:
            current["noise"] = stored["noise"]
        if "schedules" in stored:
            current["schedules"] = {**stored["schedules"], **current.get("schedules", {})}
    store.record_settings(current)
