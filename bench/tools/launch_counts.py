"""Device operations per path point: what one chunk of each method + IDGI issues besides the model's own.

On a card every aten op that reads or writes memory is at least one kernel launch, every Triton
kernel one more, and every host sync (`.item()`, `bool(tensor)`, `nonzero`) a stall of the
launch queue: the last card run had the small SceneNet launch-bound (Guided IG 19–26× its floor).
Counted here on the CPU, as the card would issue them: backend "triton" under Triton's
interpreter, CUDA graphs off; aten ops under a TorchDispatchMode, views and bare allocations left
out (they launch nothing); the model's own forward and backward (the model-only floor's ops, at
the same model calls) subtracted.

    TRITON_INTERPRET=1 PYTHONPATH=. .venv/bin/python bench/tools/launch_counts.py

`bench/tools/test_launch_counts.py` (and tests/engine/test_launch_counts.py, in `make test`) fail when a
count grows past BUDGET.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported: kernels run on CPU tensors

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes  # noqa: E402
from triton.runtime.interpreter import InterpretedFunction  # noqa: E402

import idgi_fast  # noqa: E402
from idgi_fast.engine import paths  # noqa: E402

ALLOCATIONS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "lift_fresh"}
# the workload: 4 grey images of 8×8, 8 and 16 steps (results at 3 counts), 16 points a model call
IMAGES, SIDE, STEPS, COMPUTE_AT, CHUNK = 4, 8, 8, (2, 4, 8), 16
METHODS = ("ig", "blur_ig", "guided_ig")
# device operations (aten + Triton) and host syncs per path point, as measured (bench/RESULTS.md):
# a change that adds any fails bench/tools/test_launch_counts.py and tests/engine/test_launch_counts.py
BUDGET = {
    "ig": {"operations": 2.75, "syncs": 0.0},
    "blur_ig": {"operations": 2.94, "syncs": 0.0},
    "guided_ig": {"operations": 27.75, "syncs": 1.5},
}


@dataclass
class Counts:
    aten: Counter = field(default_factory=Counter)
    triton: Counter = field(default_factory=Counter)
    syncs: Counter = field(default_factory=Counter)


class Counting(TorchDispatchMode):
    def __init__(self, counts: Counts):
        super().__init__()
        self.counts = counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if torch.Tag.data_dependent_output in func.tags:
            self.counts.syncs[name] += 1
        elif not func.is_view and name not in ALLOCATIONS:
            self.counts.aten[name] += 1
        return func(*args, **(kwargs or {}))


def host_side(function):
    """`function` run uncounted: work on CPU tensors by construction, which stays on the host on a card."""

    def uncounted(*args, **kwargs):
        with _disable_current_modes():
            return function(*args, **kwargs)

    return uncounted


def counted(run) -> Counts:
    """The operations run() issues: aten ops, Triton launches and host syncs."""
    counts = Counts()
    launch = InterpretedFunction.run

    def recording(kernel, *args, **kwargs):
        counts.triton[kernel.fn.__name__] += 1
        with _disable_current_modes():  # the interpreter's own tensor work is not the card's
            return launch(kernel, *args, **kwargs)

    InterpretedFunction.run = recording
    taps = paths.blur_taps
    paths.blur_taps = host_side(taps)  # Blur IG's taps table: built on the host, then copied once
    try:
        with Counting(counts):
            run()
    finally:
        InterpretedFunction.run, paths.blur_taps = launch, taps
    return counts


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        return self.head(torch.tanh(self.conv(x)).mean(dim=(2, 3)))


class Calls(nn.Module):
    """The model, recording each call's batch size and whether it needed a gradient."""

    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, []

    def forward(self, x):
        self.calls.append((x.shape[0], torch.is_grad_enabled()))
        return self.model(x)


def floor_counts(model, images, targets, calls) -> Counts:
    """The model-only floor's operations at the same model calls: forward, softmax probability of
    the target and (where the call took one) the gradient."""

    def run():
        for size, gradient in calls:
            rows = torch.arange(size) % images.shape[0]
            leaf = images[rows].detach().requires_grad_(gradient)
            with torch.set_grad_enabled(gradient):
                score = torch.softmax(model(leaf), dim=1).gather(1, targets[rows].view(-1, 1)).sum()
                if gradient:
                    torch.autograd.grad(score, leaf)

    return counted(run)


def beyond_floor(method: str, steps: int, compute_at) -> tuple[Counts, int]:
    """The operations of one explain call of `method` + IDGI beyond the floor's, and the path
    points it evaluated."""
    model = Calls(SmallCNN().eval())
    images = torch.rand(IMAGES, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))
    targets = torch.arange(IMAGES) % 10
    # a small blur keeps the interpreted taps loop short; Blur IG's counts do not depend on σ
    options = {"max_sigma": 0.5} if method == "blur_ig" else {}

    def run():
        idgi_fast.explain(
            model,
            images,
            target=targets,
            method=method,
            steps=steps,
            compute_at=None if method == "guided_ig" else list(compute_at),
            batch_size=CHUNK,
            backend="triton",
            graphs=False,
            **options,
        )

    total = counted(run)
    floor = floor_counts(model.model, images, targets, model.calls)
    beyond = Counts(total.aten - floor.aten, total.triton, total.syncs - floor.syncs)
    return beyond, sum(size for size, _ in model.calls)


def per_point(method: str) -> dict:
    """Marginal operations per path point of `method` + IDGI: the difference between a path of
    STEPS and one of 2·STEPS steps (the same counts of results), over the points it adds, so
    that a call's fixed work (checks, the path's tables, the result) is left out and what
    remains is the chunk loop's; and that fixed work per call."""
    beyond_floor(method, STEPS, COMPUTE_AT)  # lazy first-call work (autotuning, caches) is not the method's
    short, short_points = beyond_floor(method, STEPS, COMPUTE_AT)
    long, long_points = beyond_floor(method, 2 * STEPS, tuple(2 * n for n in COMPUTE_AT))
    points = long_points - short_points
    aten = (sum(long.aten.values()) - sum(short.aten.values())) / points
    triton = (sum(long.triton.values()) - sum(short.triton.values())) / points
    syncs = (sum(long.syncs.values()) - sum(short.syncs.values())) / points
    return {
        "aten": aten,
        "triton": triton,
        "operations": aten + triton,
        "syncs": syncs,
        "per_chunk": (aten + triton) * (IMAGES if method == "guided_ig" else CHUNK),
        "top": (long.aten - short.aten).most_common(8),
        "kernels": dict(long.triton - short.triton),
    }


def table() -> dict[str, dict]:
    return {method: per_point(method) for method in METHODS}


def over_budget(found: dict[str, dict]) -> list[str]:
    """What grew past BUDGET (to its two decimals), named by method and kind."""
    return [
        f"{method}: {kind} {row[kind]:.3f} per point > {limit} (most: {row['top']})"
        for method, row in found.items()
        for kind, limit in BUDGET[method].items()
        if round(row[kind], 2) > limit
    ]


if __name__ == "__main__":
    found = table()
    print(f"{IMAGES} images 1×{SIDE}², {STEPS} steps, counts {COMPUTE_AT}, {CHUNK} points a call, triton")
    print(
        "| method + IDGI | aten ops / point | Triton launches / point | device ops / point "
        "| host syncs / point | device ops / chunk (Guided IG: / step) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for method, row in found.items():
        print(
            f"| {method} | {row['aten']:.2f} | {row['triton']:.2f} | {row['operations']:.2f} "
            f"| {row['syncs']:.2f} | {row['per_chunk']:.0f} |"
        )
    for method, row in found.items():
        print(
            method,
            "most:",
            ", ".join(f"{name} {count}" for name, count in row["top"]),
            "| kernels:",
            row["kernels"],
        )
