"""The native ops' outer loops on 1 thread and on 2 (csrc/parallel.cpp), side by side.

PYTHONPATH=. .venv/bin/python bench/native_threads.py
"""

import time

import torch

from idgi_fast.ops.blur_path import blur_path_native
from idgi_fast.ops.msssim_levels import msssim_levels_native
from idgi_fast.ops.quantise import quantise_hwc_native
from idgi_fast.ops.resampled_medians import resampled_medians_native

g = torch.Generator().manual_seed(0)


def t(name, f, r=5):
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        f()
        ws = []
        for _ in range(r):
            w0 = time.perf_counter()
            f()
            ws.append(time.perf_counter() - w0)
        out[threads] = sorted(ws)[r // 2]
    print(f"| {name} | {out[1]:.3f} | {out[2]:.3f} | {out[1] / out[2]:.2f}× |")


print("| op (native) | 1 thread s | 2 threads s | speed-up |\n|---|---:|---:|---:|")
x = torch.rand(64, 3, 512, 512, dtype=torch.float64, generator=g)
t("quantise_hwc, 64 × 3 × 512²", lambda: quantise_hwc_native(x))
im = torch.rand(64, 3, 224, 224, dtype=torch.float64, generator=g)
one, many = torch.full((64,), 2.0, dtype=torch.float64), torch.linspace(0.5, 3, 64, dtype=torch.float64)
t("blur_path (band), 64 × 3 × 224², one σ = 2", lambda: blur_path_native(im, one, 0.01, "reflect", True))
t(
    "blur_path (band), 64 × 3 × 224², 64 σ in [0.5, 3]",
    lambda: blur_path_native(im, many, 0.01, "reflect", True),
)
N, G, R = 256, 1001, 1000
v = torch.rand(N, G, dtype=torch.float64, generator=g).cumsum(1) / G
idx = torch.randint(0, N, (R, N), generator=g)
c = torch.zeros(R, N, dtype=torch.int32).scatter_add_(1, idx, torch.ones(R, N, dtype=torch.int32))
t(f"resampled_medians, {N} curves × {G} points × {R} resamples", lambda: resampled_medians_native(v, c))
lv = torch.rand(4, 26, 3, 224, 224, dtype=torch.float64, generator=g)
ref = torch.rand(4, 3, 224, 224, dtype=torch.float64, generator=g)
w = torch.tensor([0.0448, 0.2856, 0.3001, 0.2363, 0.1333], dtype=torch.float64)
taps = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
taps /= taps.sum()
t("msssim_levels, 4 × 26 levels × 3 × 224²", lambda: msssim_levels_native(lv, ref, taps, w))
