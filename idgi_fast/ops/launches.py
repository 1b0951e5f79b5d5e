"""Every Triton launch the package can make, declared beside its launcher, and the JIT's view of a launch.

A kernel is compiled once per *specialization*: its arguments' Triton types, its constexpr values,
num_warps and num_stages, and what the JIT learns from the values it is called with (an integer
equal to 1 becomes a constexpr; a pointer or integer that is a multiple of 16 is marked divisible,
which lets loads and stores vectorise). Each op file with Triton kernels declares
`triton_launches()`: every specialization its launchers (and the autotuner) can choose, built
with `declare`. The suite compiles every declared launch for sm_80 and sm_90 (ops/gpu_compile.py)
and checks, under the interpreter, that the launchers launch nothing undeclared (`undeclared`).

Divisibility depends on the caller's shapes and offsets, so each configuration is declared at
both ends of what the JIT can learn: every pointer and every specialised integer divisible by 16
(the study's shapes: 3·224² features, 224-pixel sides, fresh allocations) and nothing divisible.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

DEFAULT_WARPS, DEFAULT_STAGES = 4, 3  # Triton's NVIDIA defaults when a launch names neither

POINTER_TYPES = {
    torch.float32: "*fp32",
    torch.float64: "*fp64",
    torch.float16: "*fp16",
    torch.bfloat16: "*bf16",
    torch.int64: "*i64",
    torch.int32: "*i32",
    torch.int8: "*i8",
    torch.bool: "*u1",
}


SMALLEST_BLOCK = 128  # one element a thread of 4 warps: a smaller problem masks lanes off, not a new compile


def launch_block(n: int, largest: int) -> int:
    """The block of a 1-D launch over n elements: the power of 2 ≥ n, at least SMALLEST_BLOCK and
    at most `largest` (its tile), so that every size compiles to one of launch_blocks(largest)."""
    return min(largest, max(SMALLEST_BLOCK, 1 << max(0, n - 1).bit_length()))


def launch_blocks(largest: int) -> list[int]:
    """Every block launch_block can choose for a tile of `largest`."""
    return sorted({launch_block(1 << k, largest) for k in range(largest.bit_length())})


def pointer(dtype: torch.dtype) -> str:
    """The Triton type of a pointer to `dtype` elements, as the JIT names it ("*fp32")."""
    return POINTER_TYPES[dtype]


@dataclass(frozen=True)
class KernelLaunch:
    """One specialization of one kernel, in the terms `triton.compiler.ASTSource` takes.

    signature: (argument, Triton type) in the kernel's argument order, "constexpr" for constexprs
    (and for integers the JIT specialised to 1); constexprs: their values, Triton float types by
    name ("fp32"); divisible_by_16: the arguments the JIT marks so; why_spill_accepted: None, or
    why the op accepts this launch spilling registers on sm_90."""

    kernel: str
    signature: tuple[tuple[str, str], ...]
    constexprs: tuple[tuple[str, object], ...]
    num_warps: int = DEFAULT_WARPS
    num_stages: int = DEFAULT_STAGES
    divisible_by_16: tuple[str, ...] = ()
    why_spill_accepted: str | None = field(default=None, compare=False)

    @property
    def configuration(self) -> tuple:
        """Everything but the divisibility: what a launch must match in the table."""
        return (self.kernel, self.signature, self.constexprs, self.num_warps, self.num_stages)

    def as_json(self) -> dict:
        return {
            "kernel": self.kernel,
            "signature": dict(self.signature),
            "constexprs": dict(self.constexprs),
            "divisible_by_16": list(self.divisible_by_16),
            "num_warps": self.num_warps,
            "num_stages": self.num_stages,
            "why_spill_accepted": self.why_spill_accepted,
        }

    def describe(self) -> str:
        constexprs = ", ".join(f"{name}={value}" for name, value in self.constexprs)
        divisible = ",".join(self.divisible_by_16) or "none"
        return (
            f"{self.kernel}[{constexprs}; warps={self.num_warps}, stages={self.num_stages}; "
            f"divisible by 16: {divisible}]"
        )


def kernel_name(kernel) -> str:
    fn = kernel.fn
    return f"{fn.__module__}:{fn.__qualname__}"


def _parameters(kernel) -> list[tuple[str, bool, bool]]:
    """(name, is constexpr, specialised on its value) of each argument, for a JIT-compiled or an
    interpreted kernel alike."""
    if hasattr(kernel, "params"):  # triton.runtime.jit.JITFunction
        return [(p.name, p.is_constexpr, not p.do_not_specialize) for p in kernel.params]
    unspecialised = set(kernel.kwargs.get("do_not_specialize") or ())  # InterpretedFunction
    found = []
    for index, parameter in enumerate(inspect.signature(kernel.fn).parameters.values()):
        constexpr = "constexpr" in str(parameter.annotation)
        found.append((parameter.name, constexpr, not ({index, parameter.name} & unspecialised)))
    return found


def _constexpr_value(value):
    name = getattr(value, "name", None)  # a triton.language dtype travels by its name
    return name if isinstance(name, str) else value


def declare(kernel, num_warps=DEFAULT_WARPS, num_stages=DEFAULT_STAGES, why_spill_accepted=None, **arguments):
    """The launches of one configuration of `kernel`: every argument named, a runtime one by its
    Triton type ("*fp32", "i32", "fp32"), a constexpr one by its value. Returns the configuration
    with everything the JIT may mark divisible marked, and with nothing marked."""
    parameters = _parameters(kernel)
    names = [name for name, _, _ in parameters]
    if sorted(names) != sorted(arguments):
        raise ValueError(f"{kernel_name(kernel)} takes {names}, declared {sorted(arguments)}")
    signature, constexprs, divisible = [], [], []
    for name, is_constexpr, specialised in parameters:
        value = arguments[name]
        if is_constexpr:
            signature.append((name, "constexpr"))
            constexprs.append((name, _constexpr_value(value)))
            continue
        signature.append((name, value))
        if value.startswith("*") or (specialised and value in ("i32", "i64")):
            divisible.append(name)
    launch = KernelLaunch(
        kernel_name(kernel),
        tuple(signature),
        tuple(constexprs),
        num_warps,
        num_stages,
        tuple(divisible),
        why_spill_accepted,
    )
    return [launch, replace(launch, divisible_by_16=())]


def observed(kernel, args: tuple, kwargs: dict) -> KernelLaunch:
    """The specialization the JIT compiles for `kernel[grid](*args, **kwargs)` (autotuned
    launches included: the autotuner passes its configuration's num_warps and num_stages here)."""
    from triton._C.libtriton import native_specialize_impl
    from triton.backends.compiler import BaseBackend

    parameters = _parameters(kernel)
    bound = dict(zip([name for name, _, _ in parameters], args))
    bound.update({k: v for k, v in kwargs.items() if k not in ("num_warps", "num_stages")})
    signature, constexprs, divisible = [], [], []
    for name, is_constexpr, specialised in parameters:
        value = bound[name]
        if is_constexpr:
            signature.append((name, "constexpr"))
            constexprs.append((name, _constexpr_value(value)))
            continue
        kind, attribute = native_specialize_impl(BaseBackend, value, False, specialised, True)[:2]
        signature.append((name, kind))
        if kind == "constexpr":
            constexprs.append((name, attribute if attribute is not None else value))
        elif attribute == "D":
            divisible.append(name)
    return KernelLaunch(
        kernel_name(kernel),
        tuple(signature),
        tuple(constexprs),
        kwargs.get("num_warps") or DEFAULT_WARPS,
        kwargs.get("num_stages") or DEFAULT_STAGES,
        tuple(divisible),
    )


def undeclared(launch: KernelLaunch, table: list[KernelLaunch]) -> bool:
    """Whether `launch` is outside the table: no declared configuration equal to it, or one that
    does not allow a divisibility it has."""
    return not any(
        entry.configuration == launch.configuration
        and set(launch.divisible_by_16) <= set(entry.divisible_by_16)
        for entry in table
    )


def ops_with_kernels() -> list:
    """The ops modules that declare Triton launches."""
    from .. import ops

    modules = [
        importlib.import_module(f"{ops.__name__}.{info.name}") for info in pkgutil.iter_modules(ops.__path__)
    ]
    return [module for module in modules if hasattr(module, "triton_launches")]


def all_launches() -> list[KernelLaunch]:
    """Every declared launch of every op, without repeats, in a stable order."""
    seen, launches = set(), []
    for module in ops_with_kernels():
        for launch in module.triton_launches():
            if launch not in seen:
                seen.add(launch)
                launches.append(launch)
    return launches


def kernel_functions() -> list[str]:
    """Every kernel of idgi_fast.kernels (a @triton.jit function whose name ends in _kernel)."""
    from .. import kernels

    names = []
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, value in vars(module).items():
            if name.endswith("_kernel") and hasattr(value, "fn") and value.fn.__module__ == module.__name__:
                names.append(f"{module.__name__}:{name}")
    return sorted(names)


TARGETS = ("sm_80", "sm_90")  # the A100's and the H100's


def compile_launches(
    launches: list[KernelLaunch], targets=TARGETS, python: str | None = None, processes: int = 2
) -> list[dict]:
    """Compile every launch for every target in `processes` worker processes running
    ops/gpu_compile.py under `python` (default: this interpreter; another venv's to compile with
    its Triton). One row per launch and target, in the launches' order."""
    package = str(Path(__file__).resolve().parents[1])
    worker = str(Path(__file__).with_name("gpu_compile.py"))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # compiling needs the JIT
    numbered = [{**launch.as_json(), "index": i} for i, launch in enumerate(launches)]

    def run(share: list[dict]) -> list[dict]:
        request = json.dumps({"package": package, "targets": list(targets), "launches": share})
        done = subprocess.run(
            [python or sys.executable, worker], input=request, capture_output=True, text=True, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"the compile worker failed (exit {done.returncode}): {done.stderr[-2000:]}")
        return json.loads(done.stdout)

    shares = [share for share in (numbered[i::processes] for i in range(processes)) if share]
    with ThreadPoolExecutor(max_workers=len(shares) or 1) as pool:
        rows = [row for found in pool.map(run, shares) for row in found]
    order = {target: i for i, target in enumerate(targets)}
    rows.sort(key=lambda row: (row["index"], order[row["target"]]))
    for row in rows:
        del row["index"]
    return rows
