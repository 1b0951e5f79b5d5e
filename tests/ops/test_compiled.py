"""Every Triton kernel at every specialization the package launches, compiled for sm_80 and sm_90
by Triton's own compiler, no GPU needed: no compile error, no spilled register
on sm_90 unless the op says why, and the launchers launch nothing their op does not declare
(ops/launches.py)."""

from __future__ import annotations

import os

import pytest
import torch
from conftest import TinyCNN
from triton.runtime.interpreter import InterpretedFunction

import idgi_fast
from idgi_fast.ops.accumulate import ACCUMULATE_TILES, accumulate, squared_norms
from idgi_fast.ops.blur_path import blur_path
from idgi_fast.ops.composite import composite
from idgi_fast.ops.guided_step import guided_step_triton, selection_threshold_triton
from idgi_fast.ops.information_curves import information_curves
from idgi_fast.ops.launches import (
    TARGETS,
    KernelLaunch,
    all_launches,
    compile_launches,
    kernel_functions,
    observed,
    undeclared,
)
from idgi_fast.ops.linear_imputation import linear_imputation
from idgi_fast.ops.target_probabilities import target_probabilities


@pytest.fixture(scope="module")
def compiled() -> list[dict]:
    return compile_launches(all_launches())


def named(row: dict) -> str:
    launch = KernelLaunch(
        row["kernel"],
        tuple(row["signature"].items()),
        tuple(row["constexprs"].items()),
        row["num_warps"],
        row["num_stages"],
        tuple(row["divisible_by_16"]),
    )
    return f"{row['target']} {launch.describe()}"


def test_every_kernel_declares_its_launches():
    assert {launch.kernel for launch in all_launches()} == set(kernel_functions())


def test_every_declared_launch_compiles_for_every_target(compiled):
    assert len(compiled) == len(all_launches()) * len(TARGETS)
    failed = [f"{named(row)}: {row['error']}" for row in compiled if "error" in row]
    assert not failed, "\n".join(failed)


def test_no_launch_spills_on_sm_90_unless_its_op_says_why(compiled):
    spilling = [
        f"{named(row)}: {row['spill_bytes']} bytes spilled"
        for row in compiled
        if row["target"] == "sm_90" and row.get("spill_bytes", 0) > 0 and not row["why_spill_accepted"]
    ]
    assert not spilling, "\n".join(spilling)


CARD_TRITON = os.environ.get("IDGI_CARD_TRITON_PYTHON")


@pytest.mark.skipif(
    not CARD_TRITON, reason="IDGI_CARD_TRITON_PYTHON names no venv of the cards' Triton: `make test` sets it"
)
def test_the_cards_triton_compiles_every_launch_without_spilling():
    """The cards carry Triton 3.6: a run there must not open on a compile error or a spill."""
    rows = compile_launches(all_launches(), python=CARD_TRITON)
    assert {row["triton"] for row in rows} == {"3.6.0"}
    failed = [f"{named(row)}: {row['error']}" for row in rows if "error" in row]
    failed += [
        f"{named(row)}: {row['spill_bytes']} bytes spilled"
        for row in rows
        if "error" not in row
        and row["target"] == "sm_90"
        and row["spill_bytes"]
        and not row["why_spill_accepted"]
    ]
    assert not failed, "\n".join(failed)


def test_every_accumulate_tile_keeps_a_thread_within_128_registers(compiled):
    rows = [row for row in compiled if row["kernel"].endswith(":accumulate_kernel")]
    tiles = {(r["constexprs"]["BLOCK"], r["constexprs"]["COUNT_TILE"], r["num_warps"]) for r in rows}
    assert tiles == set(ACCUMULATE_TILES)
    heavy = [f"{named(row)}: {row['registers']} registers" for row in rows if row["registers"] > 128]
    assert not heavy, "\n".join(heavy)


def test_the_hints_vectorise_the_streaming_loads(compiled):
    """With every pointer and size divisible by 16 (the study's shapes) the accumulate kernel's
    float32 loads are 16-byte vectors; without the hints they are all scalar."""
    rows = [
        row
        for row in compiled
        if row["kernel"].endswith(":accumulate_kernel") and row["constexprs"]["ACC"] == "fp32"
    ]
    assert all(row["ld_global_v4"] > 0 for row in rows if row["divisible_by_16"])
    assert all(row["ld_global_v4"] == 0 for row in rows if not row["divisible_by_16"])


@pytest.fixture
def launched(monkeypatch) -> list[KernelLaunch]:
    """Every kernel launch made under the interpreter while the test runs, as the JIT would
    specialise it."""
    seen = []
    run = InterpretedFunction.run

    def recording(self, *args, grid, warmup, **kwargs):
        seen.append(observed(self, args, kwargs))
        return run(self, *args, grid=grid, warmup=warmup, **kwargs)

    monkeypatch.setattr(InterpretedFunction, "run", recording)
    return seen


def assert_declared(launched: list[KernelLaunch], kernels: set[str]) -> None:
    table = all_launches()
    outside = sorted({launch.describe() for launch in launched if undeclared(launch, table)})
    assert not outside, "launched but not declared:\n" + "\n".join(outside)
    assert {launch.kernel.split(":")[1] for launch in launched} >= kernels


def run_op_cases() -> None:
    """The ops' launchers over the shapes that change a specialization: both float types, every
    flag, one count and several, one image and several, one channel and three, sizes that are and
    are not multiples of 16."""
    gen = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        for shape in ((3, 4, 4), (1, 5, 7)):
            for counts, batch, with_multiplier, with_idgi in (
                (1, 1, False, False),
                (3, 4, True, True),
                (2, 4, False, True),
            ):
                g = torch.randn(6, *shape, generator=gen, dtype=dtype)
                images = torch.arange(6) % batch
                base = torch.zeros(counts, batch, *shape, dtype=dtype)
                coef = torch.randn(6, counts, generator=gen, dtype=dtype)
                multiplier = torch.randn_like(g) if with_multiplier else None
                idgi = torch.zeros_like(base) if with_idgi else None
                accumulate(g, multiplier, coef, coef if with_idgi else None, images, base, idgi, "triton")
                squared_norms(g, "triton")
            pictures = torch.rand(2, shape[0], *shape[1:], generator=gen, dtype=dtype)
            for padding in ("zeros", "reflect"):
                for slopes in (False, True):
                    blur_path(
                        pictures,
                        torch.tensor([0.4, 1.5], dtype=torch.float64),
                        0.01,
                        padding,
                        slopes,
                        "triton",
                    )
            ranks = torch.randperm(shape[1] * shape[2], generator=gen).view(1, *shape[1:]).expand(2, -1, -1)
            composite(pictures, torch.zeros_like(pictures), ranks, torch.tensor([0, 3, 9]), "triton")
    big = torch.rand(1, 3, 40, 40, generator=gen)  # 1600 pixels: the composite's full block
    composite(
        big, big * 0, torch.randperm(1600, generator=gen).view(1, 40, 40), torch.tensor([0, 800]), "triton"
    )
    for levels in (2, 5, 9, 20, 40):  # every LEVELS block, and one past the kernel's largest
        x = torch.rand(3, levels, generator=gen, dtype=torch.float64).cumsum(1)
        for normalise_x in (False, True):
            information_curves(x, x[:, -1] + 1, x * 0.5, x[:, -1], normalise_x, 100, "triton")
    for classes in (1, 10, 1000, 2500):
        for logit_dtype in (torch.float32, torch.float64, torch.bfloat16):
            logits = torch.randn(3, classes, generator=gen).to(logit_dtype)
            target_probabilities(logits, torch.zeros(3, dtype=torch.int64), "triton")
    removed = torch.rand(2, 12, 12, generator=gen) < 0.3
    linear_imputation(torch.rand(2, 3, 12, 12, generator=gen), removed, "triton")


def guided_cases() -> None:
    gen = torch.Generator().manual_seed(1)
    for n in (37, 48, 300):
        x_in = torch.rand(2, n, generator=gen, dtype=torch.float64)
        x = torch.zeros_like(x_in)
        gradient = torch.randn(2, n, generator=gen, dtype=torch.float64)
        distance = (x - x_in).abs().sum(dim=1)
        for selection in ("kthvalue", "radix"):
            state = x.clone()
            guided_step_triton(
                state,
                torch.zeros_like(x),
                x_in,
                x * 0,
                gradient,
                distance,
                0.25,
                0.1,
                0.1,
                selection=selection,
            )
        selection_threshold_triton(gradient.abs(), 0.3)


def test_the_ops_launch_only_declared_specializations(launched):
    run_op_cases()
    guided_cases()
    assert_declared(launched, {name.split(":")[1] for name in kernel_functions()})


def test_explain_and_evaluate_launch_only_declared_specializations(launched):
    """The package's own call sites: every method with IDGI, and the fast metrics but ROAD (its
    solve takes minutes under the interpreter; the op cases above launch its kernel)."""
    model = TinyCNN().eval()
    images = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    targets = torch.tensor([1, 3])
    for method, compute_at in (("guided_ig", None), ("blur_ig", [2, 4]), ("ig", [2, 4])):
        result = idgi_fast.explain(
            model, images, target=targets, method=method, steps=4, compute_at=compute_at, backend="triton"
        )
    idgi_fast.evaluate(
        model,
        images,
        result.idgi[4],
        target=targets,
        metrics=["insertion", "deletion", "sic", "aic"],
        backend="triton",
        insertion_levels=4,
        pic_levels=5,
        msssim_win_size=3,
        msssim_scales=2,
    )
    assert_declared(
        launched, {"accumulate_kernel", "blur_rows_kernel", "guided_jump_kernel", "composite_kernel"}
    )
