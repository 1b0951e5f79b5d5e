"""The wheel a user installs, checked as one would use it (`make wheel-check`, part of `make test`).

Builds the sdist and the wheel from this tree (`python -m build --no-isolation`, so the native ops
compile against this venv's torch, reusing the objects of build/), gathers the wheel's dependencies
into a wheelhouse, installs the wheel into a new venv from that folder alone (no index; with the
network cut where `unshare -n` works), and then, in an empty folder with an empty extension cache
and no source tree in sight: `idgi-fast info --json` must report the native ops as built ahead of
time, inside the installed package, and `idgi-fast demo` must run without building anything.

python tests/install/check_wheel.py [--keep]   (run with the venv that builds, e.g. .venv/bin/python)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "build" / "wheel-check"


def step(name: str, command: list[str], **options) -> subprocess.CompletedProcess:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **options)
    print(f"  {name}: {time.perf_counter() - started:.1f} s", flush=True)
    if done.returncode != 0:
        sys.exit(
            f"wheel check: {name} failed (exit {done.returncode})\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def build(dist: Path) -> tuple[Path, Path]:
    for stale in ROOT.glob("build/lib.*"):  # modules deleted since an earlier build would ride along
        shutil.rmtree(stale)
    step(
        "build sdist + wheel",
        [
            sys.executable,
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--wheel",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        cwd=ROOT,
    )
    wheel, sdist = next(dist.glob("idgi_fast-*.whl")), next(dist.glob("idgi_fast-*.tar.gz"))
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    sources = sorted(path.name for path in (ROOT / "csrc").iterdir() if path.suffix in (".cpp", ".h"))
    needed = {
        "idgi_fast/_native.so",
        "idgi_fast/_native.json",
        *(f"idgi_fast/native_sources/{s}" for s in sources),
    }
    if needed - in_wheel:
        sys.exit(f"wheel check: the wheel lacks {sorted(needed - in_wheel)}")
    in_sdist = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
    if {"setup.py", *(f"csrc/{s}" for s in sources)} - in_sdist:
        sys.exit(
            f"wheel check: the sdist lacks {sorted({'setup.py', *(f'csrc/{s}' for s in sources)} - in_sdist)}"
        )
    return wheel, sdist


def install(wheel: Path, wheelhouse: Path, venv: Path, offline: list[str]) -> Path:
    index = os.environ.get("TORCH_INDEX")
    step(
        "gather the dependencies",
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--only-binary",
            ":all:",
            "-d",
            str(wheelhouse),
            str(wheel),
            f"torch=={torch.__version__}",
            *(["--extra-index-url", index] if index else []),
        ],
    )
    step("new venv", [sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    # only the wheelhouse: no index, no pip configuration, no network
    quiet = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
    step(
        "install offline",
        [
            *offline,
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-compile",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "idgi-fast",
        ],
        env=quiet,
    )
    return python


def use(venv: Path, offline: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="idgi_wheel_") as folder:
        here = Path(folder)
        cache = here / "extensions"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(here),
            "TORCH_EXTENSIONS_DIR": str(cache),
            "LANG": "C.UTF-8",
        }
        info = step(
            "idgi-fast info --json",
            [*offline, str(venv / "bin" / "idgi-fast"), "info", "--json"],
            cwd=here,
            env=env,
        )
        found = json.loads(info.stdout)["native"]
        build = found["build"] or {}
        if build.get("how") != "ahead of time" or not Path(build["path"]).is_relative_to(venv):
            sys.exit(f"wheel check: the native ops did not load from the installed build: {found}")
        demo = step(
            "idgi-fast demo (1 scene, 8 steps)",
            [
                *offline,
                str(venv / "bin" / "idgi-fast"),
                "demo",
                "--data",
                "scenes",
                "--images",
                "1",
                "--steps",
                "8",
                "--out",
                str(here / "demo"),
            ],
            cwd=here,
            env=env,
        )
        if "building" in info.stderr + demo.stderr or (cache.exists() and any(cache.iterdir())):
            sys.exit(f"wheel check: something was built after the install\n{info.stderr}\n{demo.stderr}")
        missing = [
            name for name in ("demo_saliency.png", "demo_table.md") if not (here / "demo" / name).exists()
        ]
        if missing:
            sys.exit(f"wheel check: the demo did not write {missing}")
        print(f"  native ops: ahead of time, target {build['target']}, {build['path']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help=f"keep {WORK} (the venv and the wheelhouse)")
    keep = parser.parse_args().keep
    shutil.rmtree(WORK, ignore_errors=True)
    cut = (
        shutil.which("unshare")
        and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    )
    offline = ["unshare", "-n"] if cut else []
    how = "network cut with unshare -n" if cut else "unshare -n unavailable: --no-index only"
    print(f"wheel check ({how}):")
    wheel, sdist = build(WORK / "dist")
    venv = WORK / "venv"
    install(wheel, WORK / "wheelhouse", venv, offline)
    use(venv, offline)
    print(f"wheel check passed: {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB), {sdist.name}")
    if not keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
