"""The build of the native C++ CPU ops (idgi_fast/csrc), and the fallback when they cannot be
built: `auto` warns once and runs the torch path, an explicit `native` says what is missing. Each
op's native implementation is tested in its own tests/ops/test_<op>.py."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
from torch.utils import cpp_extension

from idgi_fast.ops import backends, native
from idgi_fast.utils import messages

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
        RuntimeError, match=r"could not be built \(RuntimeError: no compiler.*backend='torch'"
    ):
        backends.resolve_backend("native", torch.zeros(1))


def test_a_failed_compile_leaves_the_torch_path(tmp_path, monkeypatch):
    """A real failed build: a source that does not compile, in a fresh extension name."""
    broken = tmp_path / "broken.cpp"
    broken.write_text("this is not C++\n")
    monkeypatch.setattr(native, "SOURCES", [broken])
    monkeypatch.setattr(native, "_extension_name", lambda: "idgi_fast_native_broken_test")
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "extensions"))
    monkeypatch.setattr(native, "_state", {"tried": False, "error": None})
    error = native.native_error()
    assert error is not None and "Error" in error
    assert native.native_error() == error  # tried once per process


def test_the_environment_can_switch_the_native_ops_off():
    code = "from idgi_fast.ops.native import native_error; print(native_error())"
    found = subprocess.run(
        [sys.executable, "-c", code],
        env={"IDGI_FAST_NATIVE": "0", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "RuntimeError: IDGI_FAST_NATIVE=0 is set", found.stderr


@built
@pytest.mark.skipif(
    not hasattr(cpp_extension, "FileBaton"),
    reason="this torch's extension loader holds an OS lock that dies with its holder",
)
def test_a_build_lock_left_by_a_killed_build_does_not_hang_the_next_process():
    """torch's loader waits forever on a `lock` file a stopped build left; ours clears it (under
    an flock of our own, so never a live build's)."""
    from torch.utils.cpp_extension import _get_build_directory

    stale = native.Path(_get_build_directory(native._extension_name(), verbose=False)) / "lock"
    stale.touch()
    try:
        loaded = subprocess.run(
            [sys.executable, "-c", "from idgi_fast.ops.native import native_error; print(native_error())"],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        left = stale.exists()
        stale.unlink(missing_ok=True)
    assert loaded.stdout.strip() == "None" and not left, loaded.stderr
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
