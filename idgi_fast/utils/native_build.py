"""What the two builds of the native CPU ops share: setup.py's, ahead of time, and
ops/native.py's, just in time. Standard library only: setup.py loads this file by its path, before
the package's dependencies need to be importable.

The target. A build compiled for newer instructions than a CPU has would crash there with an illegal
instruction, so every build names the CPU it needs and is loaded only where that holds. The
ahead-of-time build targets an x86-64 microarchitecture level (x86-64-v3: AVX2, FMA, BMI1/2, …;
x86-64-v2: SSE4.2, POPCNT, …; or the baseline), the highest the building CPU has, unless
IDGI_FAST_NATIVE_TARGET names another ("x86-64", "x86-64-v2", "x86-64-v3"; "generic" is the
compiler's default for the architecture, for a wheel meant for any CPU of it). Instructions are
scheduled for the building CPU (-mtune=native, which needs nothing of the CPU that runs the build),
or for none in particular when the target is named. The just-in-time build
targets the CPU it runs on (-march=native) under a name that carries its feature flags.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

# No FMA contraction: a·b + c rounded once would break Guided IG's bit-identity with the torch path.
# The C++ standard is left to torch (torch 2.14 needs C++20).
COMPILE_FLAGS = ["-O3", "-ffp-contract=off"]

# The x86-64 microarchitecture levels (the psABI's), as the Linux feature flags that make them up.
_V2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
_V3 = _V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
X86_LEVELS = {"x86-64": set(), "x86-64-v2": _V2, "x86-64-v3": _V3}
TARGETS = ("generic", *X86_LEVELS)


def _cpuinfo(field: str) -> str | None:
    """The first value of `field` in /proc/cpuinfo (Linux); None where it does not say."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    except (OSError, IndexError):
        pass
    return None


def cpu_flags() -> set[str] | None:
    """The running CPU's feature flags on Linux; None where /proc/cpuinfo does not say."""
    flags = _cpuinfo("flags")
    return set(flags.split()) if flags is not None else None


def cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def is_x86_64() -> bool:
    return platform.machine().lower() in ("x86_64", "amd64")


def missing_for(target: str, flags: set[str] | None = None) -> set[str]:
    """The features a build for `target` needs that this CPU lacks (empty: it loads here). A
    CPU that does not list its flags is taken to have only the baseline."""
    if target == "generic":
        return set()
    if not is_x86_64():
        return {f"an x86-64 CPU (this is {platform.machine()})"}
    have = cpu_flags() if flags is None else flags
    return X86_LEVELS[target] - (have or set())


def ahead_of_time_target() -> str:
    """The target of an ahead-of-time build on this machine (module docstring)."""
    chosen = os.environ.get("IDGI_FAST_NATIVE_TARGET", "")
    if chosen:
        if chosen not in TARGETS:
            raise ValueError(f"IDGI_FAST_NATIVE_TARGET must be one of {TARGETS}, got {chosen!r}")
        return chosen
    if not is_x86_64():
        return "generic"
    return next(level for level in reversed(X86_LEVELS) if not missing_for(level))


def target_flags(target: str, tune: str = "generic") -> list[str]:
    """The compiler flags of a target: -march for an x86-64 level, nothing for "generic". `tune`
    (-mtune) orders instructions for a CPU without requiring any: "native" for the building CPU."""
    return [] if target == "generic" else [f"-march={target}", f"-mtune={tune}"]


def ahead_of_time_tune() -> str:
    """The building CPU's scheduling, unless IDGI_FAST_NATIVE_TARGET asks for a build meant for others."""
    return "generic" if os.environ.get("IDGI_FAST_NATIVE_TARGET") else "native"


def native_sources(root: Path) -> list[Path]:
    """The C++ sources and headers under `root` (csrc/ of a source tree, or their copy in a wheel)."""
    return sorted([*root.glob("*.cpp"), *root.glob("*.h")])


def sources_digest(paths: list[Path]) -> str:
    """A fingerprint of the sources' names and contents: a build records it, and a build of other
    sources (csrc/ edited since) is not loaded."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.name):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def with_ninja(path: str) -> str:
    """`path` (a PATH) with the ninja wheel's binary in front, where that wheel is installed: pip's
    build and a venv that is not active leave it off, and without ninja torch compiles one file at a
    time and never incrementally."""
    try:
        import ninja
    except ImportError:
        return path
    return os.pathsep.join([ninja.BIN_DIR, path])
