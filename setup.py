"""The native CPU ops (csrc/*.cpp), compiled ahead of time when the build can import torch.

`make` and `pip install --no-build-isolation .` beside an installed torch compile them into the
package (idgi_fast/_native.so, with idgi_fast/_native.json saying for which torch, CPU target and
sources). pip's default, isolated build has no torch, and a build may find no compiler: the install
then goes on without them, and idgi_fast/ops/native.py builds them just in time on first use, saying
why. torch is never a build requirement: that would pull a multi-GB CUDA torch into pip's build
environment. Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CSRC = "csrc"
RECORD = "_native.json"  # what the library was built from, beside it
SOURCE_COPY = "idgi_fast/native_sources"  # the sources inside a wheel, for a just-in-time build there


def _load_native_build():
    """idgi_fast/utils/native_build.py by its path: importing the package needs its dependencies."""
    spec = importlib.util.spec_from_file_location("native_build", ROOT / "idgi_fast/utils/native_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


native_build = _load_native_build()


def say(message: str) -> None:
    print(f"idgi_fast: {message}", file=sys.stderr, flush=True)


class CopySources(build_py):
    """Carries csrc/ into the built package, so that an installed wheel can still build just in time."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / SOURCE_COPY
        target.mkdir(parents=True, exist_ok=True)
        for path in native_build.native_sources(ROOT / CSRC):
            shutil.copy2(path, target / path.name)


def _compiler() -> str:
    compiler = os.environ.get("CXX", "c++")
    try:
        found = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True)
        return found.stdout.splitlines()[0].strip()
    except (OSError, subprocess.CalledProcessError, IndexError):
        return compiler


def _native_extension(torch, cpp_extension):
    """The extension and its build command, which records what it built beside it and, when the
    compile fails, lets the install go on without it."""
    target = native_build.ahead_of_time_target()
    sources = native_build.native_sources(ROOT / CSRC)
    tune = native_build.ahead_of_time_tune()
    # -g0: Python's own compile flags, which setuptools adds, carry -g (12 MB of debug information)
    flags = [*native_build.COMPILE_FLAGS, *native_build.target_flags(target, tune), "-g0"]

    class BuildNative(cpp_extension.BuildExtension):
        def build_extension(self, ext):
            output = Path(self.get_ext_fullpath(ext.name))
            say(f"compiling the native CPU ops ahead of time (target {target}, torch {torch.__version__})")
            try:
                super().build_extension(ext)
            except Exception as error:  # no compiler, a failed compile: the install goes on without them
                say(
                    f"the native CPU ops did not compile ({type(error).__name__}: {error}); they will build "
                    "just in time on first use, or the torch path runs"
                )
                return
            build = {
                "torch": torch.__version__,
                "target": target,
                "flags": flags,
                "sources": native_build.sources_digest(sources),
                "compiler": _compiler(),
                "machine": platform.machine(),
            }
            output.with_name(RECORD).write_text(json.dumps(build, indent=1) + "\n")
            self.built_records.append(output.with_name(RECORD))

        def copy_extensions_to_source(self):
            """--inplace and editable builds copy the library into the source tree: the record too."""
            if not self.built_records:  # the compile failed: nothing to copy
                return
            super().copy_extensions_to_source()
            for record in self.built_records:
                shutil.copy2(record, ROOT / "idgi_fast" / RECORD)

        def run(self):
            self.built_records = []
            super().run()
            copied = self.inplace or getattr(self, "editable_mode", False)
            for record in self.built_records:
                folder = ROOT / "idgi_fast" if copied else record.parent
                say(f"native CPU ops built ahead of time: {folder / '_native.so'}")

    extension = cpp_extension.CppExtension(
        "idgi_fast._native",
        sources=[f"{CSRC}/{path.name}" for path in sources if path.suffix == ".cpp"],
        include_dirs=[str(ROOT / CSRC)],
        extra_compile_args=flags,
    )
    return extension, BuildNative.with_options(no_python_abi_suffix=True)


def native_build_options() -> dict:
    if os.environ.get("IDGI_FAST_NATIVE") == "0":
        say("IDGI_FAST_NATIVE=0: the native CPU ops are not compiled")
        return {}
    try:
        import torch
        from torch.utils import cpp_extension
    except ImportError:
        say(
            "this build cannot import torch (pip's isolated build has none), so the native CPU ops are "
            "not compiled now; they build just in time on first use. `pip install --no-build-isolation .` "
            "beside torch compiles them at install."
        )
        return {}
    os.environ["PATH"] = native_build.with_ninja(os.environ.get("PATH", ""))
    extension, command = _native_extension(torch, cpp_extension)
    return {"ext_modules": [extension], "cmdclass": {"build_ext": command, "build_py": CopySources}}


setup(**{"cmdclass": {"build_py": CopySources}, **native_build_options()})
