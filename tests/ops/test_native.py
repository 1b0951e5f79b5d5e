"""The native C++ CPU ops (csrc/): the build made at install and where it loads, the just-in-time
build, and the fallback when neither works (`auto` warns once and runs the torch path, an explicit
`native` says what is missing). Each op's native implementation is tested in tests/ops/test_<op>.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings

import pytest
import torch
from torch.utils import cpp_extension

from idgi_fast.ops import backends, native
from idgi_fast.utils import messages, native_build

built = pytest.mark.skipif(
    native.native_error() is not None, reason=f"native ops not built: {native.native_error()}"
)


@built
def test_auto_picks_native_on_the_cpu():
    assert backends.resolve_backend("auto", torch.zeros(1)) == "native"
    with pytest.raises(ValueError, match="backend='native' runs on CPU tensors"):
        backends.resolve_backend("native", torch.zeros(1, device="meta"))


def test_without_the_native_ops_auto_warns_once_and_native_names_the_fix(monkeypatch):
    monkeypatch.setitem(native._state, "tried", True)
    monkeypatch.setitem(native._state, "error", "RuntimeError: no compiler (simulated)")
    monkeypatch.setattr(messages, "_warned", set())
    with pytest.warns(UserWarning, match=r"native CPU ops are not available \(RuntimeError: no compiler"):
        assert backends.resolve_backend("auto", torch.zeros(1)) == "torch"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backends.resolve_backend("auto", torch.zeros(1)) == "torch"  # once, not per call
    with pytest.raises(
        RuntimeError, match=r"could not be loaded or built \(RuntimeError: no compiler.*backend='torch'"
    ):
        backends.resolve_backend("native", torch.zeros(1))


def _just_in_time_from(source: str, name: str, monkeypatch, tmp_path) -> None:
    """A process that has not loaded the ops yet, whose only source is `source`, built just in time
    under `name` into an empty extension cache of its own."""
    path = tmp_path / f"{name}.cpp"
    path.write_text(source)
    monkeypatch.setattr(native, "SOURCES", [path])
    monkeypatch.setattr(native, "_extension_name", lambda: name)
    monkeypatch.setenv("IDGI_FAST_NATIVE", "jit")
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "extensions"))
    monkeypatch.setattr(native, "_state", {"tried": False, "error": None, "build": None})


def test_a_failed_compile_leaves_the_torch_path(tmp_path, monkeypatch):
    """A real failed build: a source that does not compile, in a fresh extension name."""
    _just_in_time_from("this is not C++\n", "idgi_fast_native_broken_test", monkeypatch, tmp_path)
    error = native.native_error()
    assert error is not None and "Error" in error
    assert native.native_error() == error  # tried once per process
    assert native.native_build_used() is None


def test_without_an_ahead_of_time_build_the_sources_build_just_in_time_and_say_why(
    tmp_path, monkeypatch, capsys
):
    """A small source stands in for csrc/: what is checked is the fallback, not the ops."""
    source = "int idgi_fast_tiny_test() { return 1; }\n"
    _just_in_time_from(source, "idgi_fast_native_tiny_test", monkeypatch, tmp_path)
    assert native.native_error() is None
    build = native.native_build_used()
    assert build["how"] == "just in time" and build["why"] == "IDGI_FAST_NATIVE=jit is set"
    assert native.Path(build["path"]).is_relative_to(tmp_path / "extensions")
    said = capsys.readouterr().err
    assert "building the native CPU ops for this CPU now" in said and ": IDGI_FAST_NATIVE=jit is set" in said


def _record(**changes) -> dict:
    record = {"torch": torch.__version__, "target": "generic", "sources": "", **changes}
    if native.SOURCE_FOLDER is not None and "sources" not in changes:
        record["sources"] = native_build.sources_digest(native_build.native_sources(native.SOURCE_FOLDER))
    return record


@pytest.mark.parametrize(
    "record, flags, reason",
    [
        (None, None, r"no ahead-of-time build is installed.*make native"),
        (
            _record(torch="2.0.0"),
            None,
            rf"is for torch 2\.0\.0, this is torch {re.escape(torch.__version__)}",
        ),
        (_record(target="x86-64-v3"), {"sse4_2", "avx"}, r"targets x86-64-v3; this CPU lacks .*avx2.*fma"),
        (
            _record(sources="0" * 16),
            None,
            r"changed since the ahead-of-time build \(`make native` rebuilds it\)",
        ),
    ],
)
def test_an_ahead_of_time_build_loads_only_where_torch_cpu_and_sources_match(
    monkeypatch, record, flags, reason
):
    if native.SOURCE_FOLDER is None and "changed" in reason:
        pytest.skip("no sources beside this installation")
    monkeypatch.delenv("IDGI_FAST_NATIVE", raising=False)
    monkeypatch.setattr(native, "ahead_of_time_record", lambda: record)
    if flags is not None:
        monkeypatch.setattr(native_build, "cpu_flags", lambda: flags)
        monkeypatch.setattr(native_build, "is_x86_64", lambda: True)
    assert re.search(reason, native.ahead_of_time_refusal())
    monkeypatch.setattr(native, "ahead_of_time_record", lambda: _record())
    assert native.ahead_of_time_refusal() is None  # the same record with everything matching loads


def test_a_target_is_loaded_only_on_a_cpu_with_its_instructions():
    v3 = native_build.X86_LEVELS["x86-64-v3"]
    assert native_build.missing_for("generic", set()) == set()
    if native_build.is_x86_64():
        assert native_build.missing_for("x86-64-v3", v3) == set()
        assert native_build.missing_for("x86-64-v3", v3 - {"avx2"}) == {"avx2"}
        assert native_build.missing_for("x86-64-v2", native_build.X86_LEVELS["x86-64-v2"]) == set()
        assert (
            native_build.missing_for(native_build.ahead_of_time_target()) == set()
        )  # builds what loads here
    assert native_build.target_flags("x86-64-v3", "native") == ["-march=x86-64-v3", "-mtune=native"]
    assert native_build.target_flags("generic") == []


def test_the_environment_can_switch_the_native_ops_off():
    code = "from idgi_fast.ops.native import native_error; print(native_error())"
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={"IDGI_FAST_NATIVE": "0", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "RuntimeError: IDGI_FAST_NATIVE=0 is set", found.stderr


@pytest.mark.skipif(
    native.ahead_of_time_refusal() is not None,
    reason=f"no ahead-of-time build loads here: {native.ahead_of_time_refusal()}",
)
def test_a_new_process_explains_on_the_ahead_of_time_build_without_building(tmp_path):
    """The install's promise: the first explain(backend="native") of a new process, with an empty
    extension cache, runs on the ops built at install and builds nothing."""
    code = (
        "import json, torch; from idgi_fast import explain\n"
        "from idgi_fast.ops.native import native_build_used\n"
        "model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(5))\n"
        "model(torch.rand(1, 3, 8, 8)); x = torch.rand(2, 3, 8, 8)\n"
        "found = explain(model, x, method='guided_ig', steps=4, idgi=True, backend='native')\n"
        "print(json.dumps({'backend': found.backend, **native_build_used()}))"
    )
    cache = tmp_path / "extensions"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "TORCH_EXTENSIONS_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["backend"] == "native" and found["how"] == "ahead of time", found
    assert "building" not in done.stderr, done.stderr
    assert not cache.exists() or not any(cache.iterdir())


@built
@pytest.mark.skipif(
    not hasattr(cpp_extension, "FileBaton"),
    reason="this torch's extension loader holds an OS lock that dies with its holder",
)
def test_a_build_lock_left_by_a_killed_build_does_not_hang_the_next_process(tmp_path):
    """torch's loader waits forever on a `lock` file a stopped build left; ours clears it (under
    an flock of our own, so never a live build's). A small source stands in for csrc/."""
    from torch.utils.cpp_extension import _get_build_directory

    tiny = tmp_path / "tiny.cpp"
    tiny.write_text("int idgi_fast_tiny_lock_test() { return 1; }\n")
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "extensions"), "IDGI_FAST_NATIVE": "jit"}
    name = "idgi_fast_native_lock_test"
    code = (
        "from idgi_fast.ops import native\n"
        f"native.SOURCES = [native.Path({str(tiny)!r})]\n"
        f"native._extension_name = lambda: {name!r}\n"
        "print(native.native_error())"
    )
    previous = os.environ.get("TORCH_EXTENSIONS_DIR")
    os.environ["TORCH_EXTENSIONS_DIR"] = env["TORCH_EXTENSIONS_DIR"]
    try:
        stale = native.Path(_get_build_directory(name, verbose=False)) / "lock"
    finally:
        os.environ.pop("TORCH_EXTENSIONS_DIR") if previous is None else os.environ.update(
            TORCH_EXTENSIONS_DIR=previous
        )
    stale.touch()
    loaded = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert loaded.stdout.strip() == "None" and not stale.exists(), loaded.stderr
    assert "left by a build that was stopped" in loaded.stderr


@built
def test_every_threaded_op_gives_the_same_bits_on_one_thread_and_on_three():
    """csrc/parallel.cpp cuts each op's outer loop into one range per thread; every range writes
    only its own outputs, so the cut (1 thread, or 3 on uneven ranges) cannot change a bit."""
    from idgi_fast.ops.blur_path import blur_path_native
    from idgi_fast.ops.msssim_levels import msssim_levels_native
    from idgi_fast.ops.piecewise_linear import piecewise_linear_native
    from idgi_fast.ops.quantise import quantise_hwc_native
    from idgi_fast.ops.resampled_medians import resampled_medians_native

    g = torch.Generator().manual_seed(5)
    images = torch.rand(5, 3, 33, 29, dtype=torch.float64, generator=g)
    levels = torch.rand(2, 7, 3, 33, 29, dtype=torch.float64, generator=g)
    taps = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    curves = torch.rand(7, 101, dtype=torch.float64, generator=g)
    draws = torch.randint(0, 7, (50, 7), generator=g)
    counts = torch.zeros(50, 7, dtype=torch.int32).scatter_add_(
        1, draws, torch.ones(50, 7, dtype=torch.int32)
    )
    knots, values = (
        torch.tensor([0, 40, 100, 0, 100, 0, 7, 60, 100]),
        torch.rand(9, dtype=torch.float64, generator=g),
    )
    runs = {
        "quantise_hwc": lambda: quantise_hwc_native(images),
        "blur_path": lambda: blur_path_native(
            images, torch.tensor([0.5, 1.0, 1.5, 2.0, 2.5]), 0.01, "reflect"
        ),
        "msssim_levels": lambda: msssim_levels_native(levels, images[:2], taps, torch.tensor([0.5, 0.5])),
        "resampled_medians": lambda: resampled_medians_native(curves, counts),
        "piecewise_linear": lambda: piecewise_linear_native(knots, values, torch.tensor([0, 3, 5, 9]), 101),
    }
    saved = torch.get_num_threads()
    try:
        for name, run in runs.items():
            torch.set_num_threads(1)
            one = run()
            torch.set_num_threads(3)
            three = run()
            for a, b in zip(*(x if isinstance(x, tuple) else (x,) for x in (one, three))):
                assert torch.equal(a, b), name
    finally:
        torch.set_num_threads(saved)
