"""The native C++ CPU ops (idgi_fast/csrc) against their torch paths, and the fallback when they
cannot be built: `auto` warns once and runs the torch path, an explicit `native` says what is
missing."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest
import torch
from torch.utils import cpp_extension

from idgi_fast.metrics.information import _LocalMean
from idgi_fast.ops import backends, native

built = pytest.mark.skipif(
    native.native_error() is not None, reason=f"native ops not built: {native.native_error()}"
)


def _scales_by_torch(x, y, taps, c1, c2, scales):
    """MS-SSIM's per-scale plane means of cs and ssim (scales, N, L, C) with the torch path's
    local mean and avg_pool2d, for float64 levels x (N, L, C, H, W) and references y (N, C, H, W)."""
    from idgi_fast.metrics.information import _halve

    local_mean = _LocalMean(taps, x.device)
    y = y[:, None]
    cs_means, ssim_means = [], []
    for _ in range(scales):
        mu_x, mu_y = local_mean(x), local_mean(y)
        var_x, var_y = local_mean(x * x) - mu_x * mu_x, local_mean(y * y) - mu_y * mu_y
        cov = local_mean(x * y) - mu_x * mu_y
        cs = (2 * cov + c2) / (var_x + var_y + c2)
        ssim = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1) * cs
        cs_means.append(cs.flatten(-2).mean(-1))
        ssim_means.append(ssim.flatten(-2).mean(-1))
        padding = [side % 2 for side in x.shape[-2:]]
        x, y = _halve(x, padding), _halve(y, padding)
    return torch.stack(cs_means), torch.stack(ssim_means)


@built
@pytest.mark.parametrize(
    "shape, taps, scales",
    [
        ((1, 2, 3, 37, 53), 11, 1),
        ((2, 3, 2, 45, 61), 3, 3),
        ((5, 1, 1, 16, 16), 11, 1),
        ((2, 3, 2, 8, 40), 11, 2),
        ((1, 2, 1, 5, 6), 1, 2),
    ],
    ids=["odd sides", "odd sides over 3 scales", "small", "a side shorter than the window", "one tap"],
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_msssim_levels_matches_the_torch_statistics(shape, taps, scales, dtype):
    generator = torch.Generator().manual_seed(len(shape) + taps)
    references = torch.rand((shape[0], *shape[2:]), generator=generator, dtype=torch.float64)
    levels = (references[:, None] + 0.3 * torch.rand(shape, generator=generator, dtype=torch.float64)).clamp(
        0, 1
    )
    levels, references = levels.to(dtype), references.to(dtype)
    window = torch.rand(taps, generator=generator, dtype=torch.float64)
    window = window / window.sum()
    got = native.msssim_levels(levels, references, window, 1e-4, 9e-4, scales)
    want = _scales_by_torch(levels.double(), references.double(), window, 1e-4, 9e-4, scales)
    for g, w in zip(got, want):
        assert g.dtype == torch.float64 and g.shape == w.shape == (scales, *shape[:3])
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-14)


@built
def test_auto_picks_native_on_the_cpu():
    assert backends.resolve_backend("auto", torch.zeros(1)) == "native"
    with pytest.raises(ValueError, match="backend='native' runs on CPU tensors"):
        backends.resolve_backend("native", torch.zeros(1, device="meta"))


def test_without_the_native_ops_auto_warns_once_and_native_names_the_fix(monkeypatch):
    monkeypatch.setitem(native._state, "tried", True)
    monkeypatch.setitem(native._state, "error", "RuntimeError: no compiler (simulated)")
    monkeypatch.setattr(backends, "_warned", set())
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
