"""What will run on this machine: `idgi-fast info` and `python -m idgi_fast.info` (`--json` for scripts).

Versions (idgi_fast, Python, torch, Triton, CUDA and its driver), the devices, how the native CPU ops
were loaded (built ahead of time, for which CPU target, or just in time, and why), for every op which
implementations it has and which one `backend="auto"` runs on each device here (and why each other
does not), and the precision modes. Asking loads the native ops as the first explain would: where
that means building them just in time, this builds them (and says so).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import warnings
from importlib import metadata

import torch

from . import __version__
from .ops import native
from .ops.backends import resolve_backend
from .ops.catalogue import ONLY_FOR, OPS
from .runtime.precision import PRECISIONS
from .utils import native_build
from .utils.tables import markdown_table

NO_CUDA = "no CUDA device (torch.cuda.is_available() is False)"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _driver() -> str | None:
    """The NVIDIA driver's version, from nvidia-smi where it is on PATH."""
    found = shutil.which("nvidia-smi")
    if found is None:
        return None
    try:
        answer = subprocess.run(
            [found, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = answer.stdout.split()
    return lines[0] if answer.returncode == 0 and lines else None


def _cuda() -> dict:
    available = torch.cuda.is_available()
    devices = [
        {
            "name": torch.cuda.get_device_name(i),
            "capability": "sm_{}{}".format(*torch.cuda.get_device_capability(i)),
        }
        for i in range(torch.cuda.device_count() if available else 0)
    ]
    why = None if available else ("this torch is a CPU build" if torch.version.cuda is None else NO_CUDA)
    return {
        "available": available,
        "torch_built_with": torch.version.cuda,
        "driver": _driver(),
        "devices": devices,
        "why_not": why,
    }


def _native() -> dict:
    error = native.native_error()
    record = native.ahead_of_time_record()
    return {
        "loaded": error is None,
        "error": error,
        "build": native.native_build_used(),
        "ahead_of_time": None if record is None else {**record, "path": str(native.AHEAD_OF_TIME)},
        "ahead_of_time_refused": native.ahead_of_time_refusal(),
        "cpu": {"model": native_build.cpu_model(), "machine": platform.machine()},
    }


def _others(op: str, table: dict, runs: str, device: str, native_error: str | None) -> dict:
    """Why each implementation of `op` other than the one `auto` runs on `device` does not run there."""
    reasons = {}
    for name in table:
        if name == runs:
            continue
        if name == "torch":
            reasons[name] = f"auto prefers {runs} here"
        elif name == "native":
            reasons[name] = "CPU tensors only" if device == "cuda" else f"not loaded: {native_error}"
        elif name == "triton":
            reasons[name] = "CUDA tensors only" if device == "cpu" else NO_CUDA
    for name in ("native", "triton"):
        if name not in table:
            reasons[name] = "this op has none"
    return reasons


def _ops(auto: dict, native_error: str | None) -> dict:
    found = {}
    for op, table in OPS.items():
        per_device = {}
        for device, backend in auto.items():
            if backend is None:
                continue
            runs = backend if backend in table else "torch"
            per_device[device] = {
                "runs": runs,
                "only_for": ONLY_FOR.get((op, runs)),
                "others": _others(op, table, runs, device, native_error),
            }
        found[op] = {"implementations": sorted(table), "auto": per_device}
    return found


def _precision(cuda: bool) -> dict:
    flags = native_build.cpu_flags() or set()
    fast_bf16 = bool(flags & {"avx512_bf16", "amx_bf16"})
    notes = {
        "fp32": "exact float32, deterministic algorithms (the default)",
        "tf32": "TF32 matmuls and convolutions on CUDA" if cuda else "CUDA only: on the CPU the same as fp32",
        "bf16": "the model under bfloat16 autocast"
        + ("" if cuda else "; on this CPU " + ("in hardware (AVX512-BF16/AMX)" if fast_bf16 else "emulated")),
    }
    return {name: notes[name] for name in PRECISIONS}


def gather() -> dict:
    """Everything `idgi-fast info` reports, as plain data (the --json output)."""
    cuda = _cuda()
    error = native.native_error()
    with warnings.catch_warnings():  # auto's warning that the native ops are missing: reported below
        warnings.simplefilter("ignore")
        on_cpu = resolve_backend("auto", torch.empty(0))
    auto = {
        "cpu": on_cpu,
        "cuda": "triton" if cuda["available"] else None,
    }
    return {
        "idgi_fast": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": {"version": torch.__version__, "threads": torch.get_num_threads()},
        "triton": _version("triton"),
        "cuda": cuda,
        "device": "cuda" if cuda["available"] else "cpu",
        "native": _native(),
        "backends": {
            "reference": "the plain-PyTorch oracle of every method and metric (idgi_fast/reference); no ops",
            "torch": "the vectorised torch path of every op, on every device",
            "native": "loaded" if error is None else f"not available: {error}",
            "triton": "CUDA tensors" if cuda["available"] else NO_CUDA,
        },
        "auto": auto,
        "ops": _ops(auto, error),
        "precision": _precision(cuda["available"]),
    }


def _native_line(found: dict) -> str:
    build = found["build"]
    if build is None:
        return f"not available ({found['error']}): the torch path runs on the CPU"
    if build["how"] == "ahead of time":
        record = found["ahead_of_time"] or {}
        return (
            f"built ahead of time for {build['target']} (torch {record.get('torch')}, "
            f"{record.get('compiler')}): {build['path']}"
        )
    return f"built just in time for {build['target']}: {build['path']}\n  not ahead of time: {build['why']}"


def render(found: dict) -> str:
    """The human-readable report of `gather()`."""
    cuda, cpu, auto = found["cuda"], found["native"]["cpu"], found["auto"]
    devices = ", ".join(f"{d['name']} ({d['capability']})" for d in cuda["devices"]) or cuda["why_not"]
    driver = f" · driver {cuda['driver']}" if cuda["driver"] else ""
    lines = [
        f"idgi_fast {found['idgi_fast']} · Python {found['python']} · {found['platform']}",
        f"torch {found['torch']['version']} ({found['torch']['threads']} CPU threads) · "
        f"Triton {found['triton'] or 'not installed'} · CUDA {cuda['torch_built_with'] or 'none'}{driver}",
        f"CPU: {cpu['model']} ({cpu['machine']}) · CUDA devices: {devices}",
        f"native CPU ops: {_native_line(found['native'])}",
        "",
        "backends (explain's `backend`):",
        *(f"  {name}: {text}" for name, text in found["backends"].items()),
        f"auto runs: on the CPU {auto['cpu']}; on CUDA {auto['cuda'] or '— (' + NO_CUDA + ')'}",
        "",
    ]
    rows = []
    for op, entry in found["ops"].items():
        for device, choice in entry["auto"].items():
            runs = choice["runs"] + (f" (for {choice['only_for']}; else torch)" if choice["only_for"] else "")
            others = "; ".join(f"{name}: {why}" for name, why in choice["others"].items())
            rows.append(
                {
                    "op": op,
                    "has": ", ".join(entry["implementations"]),
                    "device": device,
                    "auto runs": runs,
                    "the others": others,
                }
            )
    lines.append(markdown_table(rows, ["op", "has", "device", "auto runs", "the others"]))
    lines += ["", "precision (explain's `precision`):"]
    lines += [f"  {name}: {text}" for name, text in found["precision"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="idgi-fast info", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="the report as JSON, for scripts")
    args = parser.parse_args(argv)
    found = gather()
    print(json.dumps(found, indent=1) if args.json else render(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
