"""Study method names (docs/extensions.md §9, §10): a registered path method, optionally under a
noise tunnel ("smoothgrad:ig") or averaged over the black and white baselines ("black_white:ig"),
and optionally turned into XRAI regions ("xrai:ig", "xrai:black_white:ig").

`idgi-fast run --methods` and the report take these names; each maps to one `explain` call per
batch (its method plus `noise=` or `baselines=`), with base and IDGI from the same model calls as
for the plain methods; XRAI then maps every attribution to its regions.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Any

from ...methods import METHOD_NAMES, METHODS, MethodSpec
from ...noise import NOISE_TYPES, NoiseSettings

TUNNEL_TITLES = {"smoothgrad": "SmoothGrad", "smoothgrad_sq": "SmoothGrad²", "vargrad": "VarGrad"}
# several baselines by name, in the study's [0, 1] pixel units
BASELINE_SETS = {"black_white": (0.0, 1.0)}
BASELINE_TITLES = {"black_white": "black + white"}
DEFAULT_NOISE = {"samples": 16, "stdev": 0.15, "seed": 0}


@dataclass(frozen=True)
class Recipe:
    """One study method: `method` (a registry name), under the noise tunnel `tunnel` or over the
    baseline set `baselines` (at most one of them), its maps XRAI's regions when `xrai`."""

    name: str
    method: str
    tunnel: str | None = None
    baselines: str | None = None
    xrai: bool = False  # the attributions turned into XRAI region maps
    schedule: str | None = None  # the tag of a fitted step schedule (StudyConfig.schedules)

    @property
    def spec(self) -> MethodSpec:
        return METHODS[self.method]

    @property
    def title(self) -> str:
        """ "IG", "SmoothGrad IG", "IG (black + white)", "XRAI over IG": how tables and figures
        name it."""
        title = self.spec.title
        if self.tunnel is not None:
            title = f"{TUNNEL_TITLES[self.tunnel]} {title}"
        if self.baselines is not None:
            title = f"{title} ({BASELINE_TITLES[self.baselines]})"
        title = f"XRAI over {title}" if self.xrai else title
        return f"{title} (schedule {self.schedule})" if self.schedule else title

    def variant_title(self, idgi: bool) -> str:
        return self.title + (" + IDGI" if idgi else "")

    def explain_options(
        self, noise: dict[str, Any], image_ids: list[str], schedules: dict | None = None
    ) -> dict[str, Any]:
        """`explain`'s method, noise, baselines and schedule (with the parameters it was fitted
        with) for a batch of images named `image_ids`: each image's noise keyed by its id, so
        that it does not depend on its batch."""
        options: dict[str, Any] = {"method": self.method}
        if self.schedule is not None:
            fitted = (schedules or {})[self.schedule]
            options.update(fitted.get("params", {}), schedule=fitted["positions"])
        if self.tunnel is not None:
            keys = [image_key(i) for i in image_ids]
            options["noise"] = NoiseSettings(self.tunnel, image_keys=keys, **noise)
        if self.baselines is not None:
            options["baselines"] = list(BASELINE_SETS[self.baselines])
        return options


def image_key(image_id: str) -> int:
    """A noise key in [0, 2**63) from an image's id (docs/extensions.md §9)."""
    return int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "big") >> 1


def _all_recipes() -> dict[str, Recipe]:
    found = {m: Recipe(m, m) for m in METHOD_NAMES}
    for tunnel in NOISE_TYPES:
        found.update({f"{tunnel}:{m}": Recipe(f"{tunnel}:{m}", m, tunnel=tunnel) for m in METHOD_NAMES})
    for name in BASELINE_SETS:
        takers = [m for m in METHOD_NAMES if METHODS[m].takes_baselines]
        found.update({f"{name}:{m}": Recipe(f"{name}:{m}", m, baselines=name) for m in takers})
    found.update({f"xrai:{n}": replace(r, name=f"xrai:{n}", xrai=True) for n, r in found.items()})
    return found


RECIPES = _all_recipes()
# the plain methods first, then each tunnel's, then the baseline sets', then all of them under XRAI
RECIPE_NAMES = tuple(RECIPES)


SCHEDULE_TAG = re.compile(r"[A-Za-z0-9_.-]+")


def recipe(name: str) -> Recipe:
    """The study method of a name; "<name>@<tag>" runs <name> over the fitted schedule `tag`."""
    base, _, tag = name.partition("@") if isinstance(name, str) else (name, "", "")
    try:
        found = RECIPES[base]
    except (KeyError, TypeError):
        raise ValueError(f"unknown study method {name!r}; {RECIPES_HELP}") from None
    if not tag:
        return found
    if not SCHEDULE_TAG.fullmatch(tag):
        raise ValueError(f"schedule tag {tag!r} of {name!r} must be letters, digits, '_', '.' or '-'")
    return replace(found, name=name, schedule=tag)


def ordered(names) -> list[str]:
    """Study method names in RECIPE_NAMES order, each scheduled variant after its method."""
    rank = {name: i for i, name in enumerate(RECIPE_NAMES)}
    known = [n for n in dict.fromkeys(names) if n.partition("@")[0] in rank]
    return sorted(known, key=lambda n: (rank[n.partition("@")[0]], n.partition("@")[2]))


RECIPES_HELP = (
    f"a method is one of {', '.join(METHOD_NAMES)}, optionally under a noise tunnel "
    f"({', '.join(t + ':' for t in NOISE_TYPES)} e.g. smoothgrad:ig) or averaged over the black and "
    f"white baselines (black_white: before "
    f"{' or '.join(m for m in METHOD_NAMES if METHODS[m].takes_baselines)}); xrai: before any of these "
    "maps it to XRAI regions (e.g. xrai:black_white:ig, PAIR's default; needs pip install 'idgi-fast[xrai]')"
)


def check_noise_settings(noise: object) -> dict[str, Any]:
    """The study's noise settings ("samples", "stdev", "seed"; defaults DEFAULT_NOISE), checked
    as a tunnel's."""
    if not isinstance(noise, dict):
        raise TypeError(f"noise must be a dict of samples, stdev and seed, got {type(noise).__name__}")
    unknown = sorted(set(noise) - set(DEFAULT_NOISE))
    if unknown:
        raise ValueError(f"unknown noise setting(s) {unknown}; the settings are {list(DEFAULT_NOISE)}")
    settings = {**DEFAULT_NOISE, **noise}
    checked = NoiseSettings(**settings)
    return {key: getattr(checked, key) for key in DEFAULT_NOISE}
