"""The build of the native C++ CPU ops (idgi_fast/csrc/<op>.cpp, C++ against ATen), on first use,
cached; each op's wrapper lives in its ops/<op>.py and calls `library()`.

They are compiled just in time with torch's extension builder (`torch.utils.cpp_extension.load`,
ninja and the machine's C++ compiler) into torch's extension cache, under a name that carries
the torch version, so a build is reused by every later process with the same torch and sources
and nothing recompiles on import. Just in time rather than at `pip install` time: an
ahead-of-time build needs torch inside pip's build environment, which would pull a multi-GB
CUDA torch, and a failed build would fail the whole install; here a machine without a compiler
still installs and runs the torch path. The ops register under `torch.ops.idgi_fast`.

IDGI_FAST_NATIVE=0 in the environment skips the build (the torch path everywhere).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

SOURCES = sorted((Path(__file__).resolve().parent.parent / "csrc").glob("*.cpp"))
_lock = threading.Lock()
_state: dict[str, str | bool | None] = {"tried": False, "error": None}


def _cpu_flags() -> str | None:
    """The CPU's feature flags on Linux (None elsewhere): the build then targets this CPU
    (-march=native: AVX2 and FMA where present; bench/RESULTS.md) under a name that carries them,
    so a cache shared with another kind of CPU never loads code it cannot run."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _extension_name() -> str:
    version = torch.__version__.replace(".", "_").replace("+", "_")
    flags = _cpu_flags()
    cpu = hashlib.sha256(flags.encode()).hexdigest()[:8] if flags else "generic"
    return f"idgi_fast_native_torch{version}_{cpu}"


def _is_built(name: str) -> bool:
    """Whether torch's extension cache already holds the library (only to say when a build starts)."""
    try:
        from torch.utils.cpp_extension import _get_build_directory

        return (Path(_get_build_directory(name, verbose=False)) / f"{name}.so").exists()
    except Exception:  # a private helper of torch's: if it moves, the message is all that is lost
        return False


def _build() -> None:
    if os.environ.get("IDGI_FAST_NATIVE") == "0":
        raise RuntimeError("IDGI_FAST_NATIVE=0 is set")
    if not SOURCES:
        raise RuntimeError("the C++ sources (idgi_fast/csrc/*.cpp) are not installed")
    from torch.utils.cpp_extension import load

    saved_path = os.environ.get("PATH", "")
    try:
        import ninja  # the ninja wheel's binary, on PATH for the build only (the venv may not be active)

        os.environ["PATH"] = os.pathsep.join([ninja.BIN_DIR, saved_path])
    except ImportError:
        pass
    name = _extension_name()
    if not _is_built(name):
        print("idgi_fast: building the native CPU ops (once per torch version)", file=sys.stderr, flush=True)
    try:
        with _one_builder(name):
            load(
                name=name,
                sources=[str(path) for path in SOURCES],
                # the C++ standard is left to torch (torch 2.14 needs C++20)
                # no FMA contraction: a·b + c rounded once would break Guided IG's bit-identity
                extra_cflags=["-O3", "-ffp-contract=off", *(["-march=native"] if _cpu_flags() else [])],
                is_python_module=False,
                verbose=False,
            )
    finally:
        os.environ["PATH"] = saved_path


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
    """None when the native ops are loaded (building them on the first call), else why not."""
    with _lock:
        if not _state["tried"]:
            _state["tried"] = True
            try:
                _build()
            except Exception as error:  # no compiler, no ninja, a failed compile: the torch path remains
                lines = [line.strip() for line in str(error).splitlines() if line.strip()]
                detail = next(
                    (line for line in lines if "error:" in line),  # the compiler's first error
                    next((line for line in lines if "error" in line.lower()), lines[-1] if lines else ""),
                )
                _state["error"] = f"{type(error).__name__}: {detail}".strip()
        return _state["error"]  # type: ignore[return-value]


def library():
    """torch.ops.idgi_fast, loading (or building) it when an op is called before any backend
    was resolved."""
    error = native_error()
    if error is not None:
        raise RuntimeError(f"the native CPU ops could not be built ({error}); use backend='torch'")
    return torch.ops.idgi_fast
