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
