"""What the compiler makes of every Triton kernel, no GPU needed: registers a thread, spilled bytes,
shared memory, resident warps per SM, vectorised global loads and stores, per kernel × declared
specialization × target (sm_80, sm_90); and, for the study's launch of each kernel (ResNet-50 at
224², 16 images, 128 steps, 64 points a chunk, 5 step counts), the bytes it must move and the time
that bounds it at the copy bandwidth measured on the study's card (2.8–2.96 TB/s, bench/RESULTS.md).

    PYTHONPATH=. .venv/bin/python bench/tools/kernel_resources.py [--json rows.json] [--triton PYTHON]

The rows are what the compiler said (ops/launches.py's compile_launches); the bytes are the
compulsory traffic of the model below (each input read once, each output written once, L2 reuse
of the 16 source images assumed). docs/backends.md §14 says how to read the table.
"""

from __future__ import annotations

import argparse
import json
import sys

from idgi_fast.ops.launches import all_launches, compile_launches

D, POINTS, IMAGES, COUNTS = 3 * 224 * 224, 64, 16, 5  # features, chunk, images, step counts
BANDWIDTH = (2.8e12, 2.96e12)  # bytes/s, copy bandwidth measured on the card (bench/RESULTS.md)
LEVELS_INSERTION, PER_CALL = 21, 3  # insertion's K + 1 images, images a compositing call (64 // 21)
ROAD_PLANES = IMAGES * 7 * 2 * 3  # ROAD: 7 percentages × MoRF/LeRF systems × 3 channels per image

# kernel → (the study's launch: constexprs it takes, bytes it must move, what it moves)
STUDY = {
    "accumulate_kernel": (
        {"HAS_MULTIPLIER": False, "HAS_IDGI": True, "ACC": "fp32", "BLOCK": 1024, "COUNT_TILE": 1},
        POINTS * D * 4 + 2 * 2 * IMAGES * COUNTS * D * 4,
        "IG + IDGI chunk: g once, base and IDGI accumulators of 16 images × 5 counts read + written",
    ),
    "squared_norm_partials_kernel": ({"ACC": "fp32"}, POINTS * D * 4, "the chunk's gradients once"),
    "blur_rows_kernel": (
        {"REFLECT": False},
        IMAGES * D * 4 + 2 * POINTS * D * 8,
        "16 source images once (L2), A x and D x of 64 points written in float64",
    ),
    "blur_cols_kernel": (
        {"REFLECT": False, "SLOPES": True},
        2 * POINTS * D * 8 + 2 * POINTS * D * 4,
        "A x and D x read, points and slopes of 64 points written",
    ),
    "composite_kernel": (
        {"BLOCK": 1024},
        2 * PER_CALL * D * 4 + PER_CALL * 224 * 224 * 4 + PER_CALL * LEVELS_INSERTION * D * 4,
        "3 images' input and canvas and ranks once, their 21 insertion images written",
    ),
    "guided_jump_kernel": ({"BLOCK": 1024}, 5 * IMAGES * D * 8, "x, x_in, x', G read and the scores written"),
    "guided_room_kernel": (
        {"BLOCK": 1024},
        IMAGES * D * 8,
        "the scores read (state of selected features aside)",
    ),
    "guided_move_kernel": (
        {"BLOCK": 1024},
        3 * IMAGES * D * 8,
        "scores, x and x_in read (masked updates aside)",
    ),
    "digit_histogram_kernel": ({"BLOCK": 256}, IMAGES * D * 8, "the scores read, one digit pass"),
    "information_curve_kernel": (
        {"NORMALISE_X": True, "LEVELS": 32},
        IMAGES * (4 * 27 * 8 + 1001 * 8),
        "16 curves: 25 levels' values in, 1001 grid points out",
    ),
    "masked_stencil_kernel": (
        {"JACOBI": True},
        4 * ROAD_PLANES * 224 * 224 * 8,
        "one Jacobi sweep of 16 images' ROAD systems: v, rhs, unknowns read, v written",
    ),
    "target_probability_kernel": (
        {},
        POINTS * 1000 * 4 + POINTS * 24,
        "64 scored images' 1000 logits read (float32), probability and class written",
    ),
}


# the study's data is float32 where a kernel takes either type
FLOAT32_DATA = {
    "g_ptr": "*fp32",
    "x_ptr": "*fp32",
    "shown_ptr": "*fp32",
    "logits_ptr": "*fp32",
    "points_ptr": "*fp32",
}


def study_row(rows: list[dict], kernel: str) -> dict | None:
    """The sm_90 row of the study's launch of `kernel`: float32 data, every divisibility hint."""
    wanted, _, _ = STUDY[kernel]
    mine = [row for row in rows if row["kernel"].endswith(":" + kernel)]
    # float32 where the kernel takes it: Guided IG's state is float64 only
    float32 = {n: k for n, k in FLOAT32_DATA.items() if any(r["signature"].get(n) == k for r in mine)}
    for row in mine:
        if (
            row["target"] == "sm_90"
            and row["divisible_by_16"]
            and all(row["constexprs"].get(k) == v for k, v in wanted.items())
            and all(row["signature"][name] == kind for name, kind in float32.items())
            and "error" not in row
        ):
            return row
    return None


def summary(rows: list[dict]) -> list[str]:
    """One Markdown row per kernel: the worst over its specializations and targets, and the study's launch."""
    lines = [
        "| kernel | specializations × targets | max registers | max spill B | min warps/SM "
        "| study launch (sm_90): registers, warps/SM (occupancy) | ld v4/v2/scalar | st v4/v2/scalar "
        "| bytes | bound µs at 2.96–2.8 TB/s |",
        "|---|---:|---:|---:|---:|---|---|---|---:|---|",
    ]
    for kernel in sorted(STUDY):
        mine = [row for row in rows if row["kernel"].endswith(":" + kernel) and "error" not in row]
        study = study_row(rows, kernel)
        nbytes = STUDY[kernel][1]
        bound = " – ".join(f"{nbytes / b * 1e6:.0f}" for b in sorted(BANDWIDTH, reverse=True))
        launch = "–"
        loads = stores = "–"
        if study is not None:
            warps = study["resident_warps"]
            launch = f"{study['registers']}, {warps} ({warps / 64:.0%})"
            loads = "/".join(str(study[f"ld_global_{w}"]) for w in ("v4", "v2", "scalar"))
            stores = "/".join(str(study[f"st_global_{w}"]) for w in ("v4", "v2", "scalar"))
        lines.append(
            f"| {kernel} | {len(mine)} | {max(r['registers'] for r in mine)} "
            f"| {max(r['spill_bytes'] for r in mine)} | {min(r['resident_warps'] for r in mine)} "
            f"| {launch} | {loads} | {stores} | {nbytes / 1e6:.1f} MB | {bound} |"
        )
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write every row (launch × target) to this file")
    parser.add_argument(
        "--triton", help="compile with the Triton of this Python (e.g. .venv-triton36/bin/python)"
    )
    args = parser.parse_args(argv)
    rows = compile_launches(all_launches(), python=args.triton)
    errors = [row for row in rows if "error" in row]
    for row in errors:
        print(
            f"compile error: {row['kernel']} {row['target']} {row['constexprs']}: {row['error']}",
            file=sys.stderr,
        )
    print(f"Triton {rows[0]['triton']}: {len(rows)} launches × targets compiled, {len(errors)} errors")
    print("\n".join(summary(rows)))
    for kernel, (_, _, what) in sorted(STUDY.items()):
        print(f"- {kernel}: {what}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=1)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
