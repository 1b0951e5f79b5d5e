"""The native C++ CPU ops (csrc/<op>.cpp, C++ against ATen): loaded once per process, from the
build made at install time when it fits this process, else built just in time; each op's wrapper
lives in its ops/<op>.py and calls `library()`. The ops register under `torch.ops.idgi_fast`.

Ahead of time: `make` and `pip install --no-build-isolation .` compile idgi_fast/_native.so (setup.py)
for an x86-64 level (utils/native_build.py) and record in idgi_fast/_native.json the torch, target and
sources it was built from. It loads only where all three hold: the same torch (the C++ ABI is
torch's), a CPU with the target's instructions, and, in a source tree, csrc/ unchanged since.

Just in time, otherwise (pip's isolated build, which has no torch; another torch; an older CPU; csrc/
edited): torch's extension builder (`torch.utils.cpp_extension.load`, ninja and the machine's C++
compiler) compiles the same sources for this CPU (-march=native) into torch's extension cache, under
a name that carries the torch version and the CPU's features, once; a message says why it builds.
Where neither works (no compiler) the torch path runs.

IDGI_FAST_NATIVE=0 in the environment skips both (the torch path everywhere); IDGI_FAST_NATIVE=jit
ignores the ahead-of-time build.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

from ..utils import native_build

PACKAGE = Path(__file__).resolve().parents[1]
AHEAD_OF_TIME = PACKAGE / "_native.so"
AHEAD_OF_TIME_RECORD = PACKAGE / "_native.json"
# a wheel carries a copy of csrc/ (setup.py); a source tree has csrc/ beside the package
SOURCE_FOLDER = next(
    (folder for folder in (PACKAGE / "native_sources", PACKAGE.parent / "csrc") if folder.is_dir()), None
)
SOURCES = [path for path in native_build.native_sources(SOURCE_FOLDER or PACKAGE) if path.suffix == ".cpp"]
_lock = threading.Lock()
_state: dict = {"tried": False, "error": None, "build": None}


def _extension_name() -> str:
    """The just-in-time build's name: the torch version and this CPU's features (a cache shared with
    another kind of CPU never loads code it cannot run)."""
    version = torch.__version__.replace(".", "_").replace("+", "_")
    flags = native_build.cpu_flags()
    cpu = hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest()[:8] if flags else "generic"
    return f"idgi_fast_native_torch{version}_{cpu}"


def ahead_of_time_record() -> dict | None:
    """What the installed ahead-of-time build was built from (setup.py), or None without one."""
    try:
        return json.loads(AHEAD_OF_TIME_RECORD.read_text()) if AHEAD_OF_TIME.exists() else None
    except (OSError, ValueError):
        return None


def ahead_of_time_refusal() -> str | None:
    """None when the ahead-of-time build can load in this process, else why not."""
    if os.environ.get("IDGI_FAST_NATIVE") == "jit":
        return "IDGI_FAST_NATIVE=jit is set"
    record = ahead_of_time_record()
    if record is None:
        return (
            "no ahead-of-time build is installed (pip's isolated build has no torch to build against; "
            "`make native` or `pip install --no-build-isolation .` makes one)"
        )
    if record.get("torch") != torch.__version__:
        return (
            f"the ahead-of-time build is for torch {record.get('torch')}, this is torch {torch.__version__}"
        )
    missing = native_build.missing_for(record.get("target", "generic"))
    if missing:
        return (
            f"the ahead-of-time build targets {record['target']}; this CPU lacks {', '.join(sorted(missing))}"
        )
    if SOURCE_FOLDER is not None:
        if native_build.sources_digest(native_build.native_sources(SOURCE_FOLDER)) != record.get("sources"):
            return f"{SOURCE_FOLDER} changed since the ahead-of-time build (`make native` rebuilds it)"
    return None


def _is_built(name: str) -> bool:
    """Whether torch's extension cache already holds the library (only to say when a build starts)."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return (Path(_get_build_directory(name, verbose=False)) / f"{name}.so").exists()
    except Exception:  # a private helper of torch's: if it moves, the message is all that is lost
        return False


def _build_just_in_time(why: str) -> dict:
    if not SOURCES:
        raise RuntimeError(f"{why}, and the C++ sources (csrc/*.cpp) are not installed")
    from torch.utils.cpp_extension import _get_build_directory, load

    saved_path = os.environ.get("PATH", "")
    os.environ["PATH"] = native_build.with_ninja(saved_path)  # for the build only
    name = _extension_name()
    if not _is_built(name):
        print(
            f"idgi_fast: building the native CPU ops for this CPU now (once per torch and CPU): {why}",
            file=sys.stderr,
            flush=True,
        )
    flags = ["-march=native"] if native_build.cpu_flags() and native_build.is_x86_64() else []
    try:
        with _one_builder(name):
            load(
                name=name,
                sources=[str(path) for path in SOURCES],
                extra_cflags=[*native_build.COMPILE_FLAGS, *flags],
                extra_include_paths=[str(SOURCES[0].parent)],
                is_python_module=False,
                verbose=False,
            )
    finally:
        os.environ["PATH"] = saved_path
    folder = _get_build_directory(name, verbose=False)
    return {
        "how": "just in time",
        "target": "this CPU (-march=native)" if flags else "generic",
        "path": str(Path(folder) / f"{name}.so"),
        "why": why,
    }


def _load() -> dict:
    """Loads the ops into torch.ops.idgi_fast and says which build, how and why."""
    if os.environ.get("IDGI_FAST_NATIVE") == "0":
        raise RuntimeError("IDGI_FAST_NATIVE=0 is set")
    why = ahead_of_time_refusal()
    if why is None:
        try:
            torch.ops.load_library(str(AHEAD_OF_TIME))
            record = ahead_of_time_record() or {}
            return {"how": "ahead of time", "target": record.get("target"), "path": str(AHEAD_OF_TIME)}
        except OSError as error:  # an ABI the record did not catch: the sources can still build here
            why = f"the ahead-of-time build did not load ({error})"
    return _build_just_in_time(why)


@contextmanager
def _one_builder(name: str):
    """torch's extension loader (up to 2.13: its FileBaton) marks a build with a `lock` file in the
    build folder and waits, forever, while another process's file is there; a build killed
    half-way (Ctrl-C on the first import) leaves it behind, and every later process hangs. Every
    process of ours first takes an flock on a file of its own there (dropped by the system however
    the holder ends), so while we hold it a `lock` file left in the folder is stale and is removed.
    torch 2.14 holds an OS lock on that file instead, which dies with its holder: nothing to do."""
    from torch.utils import cpp_extension

    if not hasattr(cpp_extension, "FileBaton"):
        yield
        return
    try:
        import fcntl

        from torch.utils.cpp_extension import _get_build_directory

        folder = Path(_get_build_directory(name, verbose=False))
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / "idgi_fast_build.flock", "a")
    except Exception:  # no flock (Windows) or torch's private helper moved: torch's own lock alone
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for a live build of another of our processes
        stale = folder / "lock"
        if stale.exists():
            print(f"idgi_fast: removing {stale}, left by a build that was stopped", file=sys.stderr)
            stale.unlink(missing_ok=True)
        yield
    finally:
        handle.close()


def native_error() -> str | None:
    """None when the native ops are loaded (loading or building them on the first call), else why not."""
    with _lock:
        if not _state["tried"]:
            _state["tried"] = True
            try:
                _state["build"] = _load()
            except Exception as error:  # no compiler, no ninja, a failed compile: the torch path remains
                lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                detail = next(
                    (line for line in lines if "error:" in line),  # the compiler's first error
                    next((line for line in lines if "error" in line.lower()), lines[-1] if lines else ""),
                )
                _state["error"] = f"{type(error).__name__}: {detail}".strip()
        return _state["error"]


def native_build_used() -> dict | None:
    """The loaded build: {"how": "ahead of time" | "just in time", "target", "path"} and, just in
    time, "why" the ahead-of-time one was not used; None when none loaded (native_error says why)."""
    return None if native_error() is not None else dict(_state["build"])


def library():
    """torch.ops.idgi_fast, loading (or building) it when an op is called before any backend
    was resolved."""
    error = native_error()
    if error is not None:
        raise RuntimeError(f"the native CPU ops could not be loaded or built ({error}); use backend='torch'")
    return torch.ops.idgi_fast
