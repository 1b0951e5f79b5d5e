"""Compile declared kernel launches (ops/launches.py) for a GPU target without a GPU, and read what
the compiler made of them: registers a thread, spilled bytes, shared memory and the global loads
and stores in the PTX, vectorised or not.

Triton compiles for a named target on any machine, and its wheel ships `ptxas` and `cuobjdump`.
This file runs as a script in a process of its own (the suite imports triton in interpreter mode,
where kernels cannot be compiled) and uses only the standard library and Triton, so that it also
runs in a venv that holds nothing but another Triton (the cards' 3.6):

    python idgi_fast/ops/gpu_compile.py < request.json > rows.json

The request is {"package": the idgi_fast folder, "targets": ["sm_80", …], "launches": [the
launches' as_json(), …]}; the answer is one row per launch and target, the launch's keys plus
target, registers, spill_bytes (stack + local), shared_bytes, the PTX's load/store counts, or
error (what the compiler raised).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time

# per SM, from NVIDIA's compute capability tables: 64 K registers, 64 resident warps and 32
# resident blocks on both; shared memory a block may use 164 KB (A100) / 227 KB (H100)
SM_LIMITS = {
    "sm_80": {"registers": 65536, "warps": 64, "blocks": 32, "shared": 167936},
    "sm_90": {"registers": 65536, "warps": 64, "blocks": 32, "shared": 232448},
}
RESERVED_SHARED = 1024  # the driver keeps 1 KB of shared memory per resident block (sm_80 and later)
_USAGE = re.compile(r"REG:(\d+) STACK:(\d+) SHARED:(\d+) LOCAL:(\d+)")
_MEMORY_OP = re.compile(r"\b(ld|st)\.global((?:\.[\w:]+)*)")


def resident_warps(target: str, registers: int, num_warps: int, shared_bytes: int) -> int:
    """Warps of this kernel one SM keeps resident: registers are given to a warp in units of
    256, a block's warps all at once; the least of the register, shared-memory, warp and block
    limits."""
    limits = SM_LIMITS[target]
    per_warp = -(-max(registers, 1) * 32 // 256) * 256
    blocks = min(
        limits["registers"] // per_warp // num_warps,
        limits["shared"] // (shared_bytes + RESERVED_SHARED),
        limits["warps"] // num_warps,
        limits["blocks"],
    )
    return blocks * num_warps


def memory_instructions(ptx: str) -> dict:
    """Global loads and stores in the PTX by width: v4, v2 and scalar."""
    counts = {f"{op}_global_{width}": 0 for op in ("ld", "st") for width in ("v4", "v2", "scalar")}
    for op, modifiers in _MEMORY_OP.findall(ptx):
        parts = modifiers.split(".")
        width = "v4" if "v4" in parts else "v2" if "v2" in parts else "scalar"
        counts[f"{op}_global_{width}"] += 1
    return counts


def _kernel(package: str, name: str):
    """The @triton.jit function `module:function`, its file loaded by path (no idgi_fast import,
    so no torch)."""
    module_name, function = name.split(":")
    path = os.path.join(package, *module_name.split(".")[1:]) + ".py"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return getattr(module, function)


def _resources(cubin: bytes) -> dict:
    import triton

    cuobjdump = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
        file.write(cubin)
        file.flush()
        dump = subprocess.run(
            [cuobjdump, "--dump-resource-usage", file.name], capture_output=True, text=True, check=True
        ).stdout
    found = _USAGE.search(dump)
    if found is None:
        raise RuntimeError(f"cuobjdump printed no resource usage: {dump!r}")
    registers, stack, _, local = (int(value) for value in found.groups())
    return {"registers": registers, "spill_bytes": stack + local}


def compile_one(package: str, launch: dict, target: str) -> dict:
    import triton
    import triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    kernel = _kernel(package, launch["kernel"])
    names = list(launch["signature"])
    constexprs = {
        name: tl.dtype(value) if isinstance(value, str) else value
        for name, value in launch["constexprs"].items()
    }
    attrs = {(names.index(name),): [["tt.divisibility", 16]] for name in launch["divisible_by_16"]}
    source = ASTSource(fn=kernel, signature=launch["signature"], constexprs=constexprs, attrs=attrs)
    compiled = triton.compile(
        source,
        target=GPUTarget("cuda", int(target.removeprefix("sm_")), 32),
        options={"num_warps": launch["num_warps"], "num_stages": launch["num_stages"]},
    )
    row = {**launch, "target": target, **_resources(compiled.asm["cubin"])}
    row["shared_bytes"] = int(compiled.metadata.shared)
    row.update(memory_instructions(compiled.asm["ptx"]))
    row["resident_warps"] = resident_warps(target, row["registers"], launch["num_warps"], row["shared_bytes"])
    return row


def compile_all(request: dict) -> list[dict]:
    import triton

    rows = []
    for launch in request["launches"]:
        for target in request["targets"]:
            began = time.perf_counter()
            try:
                rows.append(compile_one(request["package"], launch, target))
            except Exception as error:  # reported per launch: the caller names kernel, target, specialization
                rows.append({**launch, "target": target, "error": f"{type(error).__name__}: {error}"})
            rows[-1]["triton"] = triton.__version__
            rows[-1]["compile_seconds"] = round(time.perf_counter() - began, 3)
    return rows


if __name__ == "__main__":
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # the JIT's default; silences 3.9's notice
    json.dump(compile_all(json.load(sys.stdin)), sys.stdout)
