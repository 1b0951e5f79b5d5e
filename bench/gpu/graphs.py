"""GPU check, section "graphs": CUDA graphs on against off, equal results, captured, timed."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from bench.floor import model_only_floor
from bench.gpu.backends import end_to_end_workloads
from bench.gpu.metrics import METRIC_GROUPS
from bench.timing import CHUNK, METHODS, largest_difference, timed
from idgi_fast import evaluate, explain
from idgi_fast.utils.tables import markdown_table


def check_graphs(report: dict, device: str, rounds: int) -> int:
    """CUDA graphs (explain(graphs=...), evaluate(graphs=...)): equal results, captured, timed."""
    if device != "cuda":  # capture needs CUDA streams; tests/runtime/test_graphs.py covers the CPU side
        print("\n## CUDA graphs: skipped on a dry run (they need a CUDA device)")
        report["graphs"] = []
        return 0
    from floor import graphed_floor

    from idgi_fast.runtime.graphs import CACHE, clear_graphs

    rows, failures = [], 0
    workloads = list(end_to_end_workloads(device))
    for name, model, x, labels, steps in workloads:
        clear_graphs()
        floor = timed(lambda: model_only_floor(model, x, labels, steps + 1, CHUNK), rounds)
        graphed = graphed_floor(model, x, labels, steps + 1, CHUNK)
        floor_graphed = timed(graphed, rounds)
        rows.append({"workload": name, "entry": "floor / floor as one graph per chunk", "off s": floor})
        rows[-1]["on s"] = floor_graphed
        for method in METHODS:
            options = dict(target=labels, method=method, steps=steps, idgi=True, batch_size=CHUNK)
            off = explain(model, x, graphs=False, **options)
            on = explain(model, x, graphs=True, **options)
            again = explain(model, x, graphs=True, **options)  # replayed from the cache
            captured = any(
                getattr(state, "call", None) is not None and state.call.captured
                for _, state in CACHE.entries.values()
            )
            error = max(
                largest_difference(result.attribution(idgi=idgi), off.attribution(idgi=idgi))
                for result in (on, again)
                for idgi in (False, True)
            )
            limit = 1e-3 if method == "guided_ig" else 1e-5
            passed = captured and error <= limit
            failures += not passed
            seconds_off = timed(lambda: explain(model, x, graphs=False, **options), rounds)
            seconds_on = timed(lambda: explain(model, x, graphs=True, **options), rounds)
            rows.append(
                {
                    "workload": name,
                    "entry": f"{method} + IDGI [triton]",
                    "off s": seconds_off,
                    "on s": seconds_on,
                    "off × floor": seconds_off / floor,
                    "on × floor": seconds_on / floor,
                    "on × graphed floor": seconds_on / floor_graphed,
                    "max diff": error,
                    "captured": captured,
                    "pass": passed,
                }
            )
    failures += _metric_rows(rows, workloads[-1], rounds)
    failures += _test_rows(rows)
    report["graphs"] = rows
    print(f"\n## CUDA graphs off / on (median of {rounds}; the floors: eager and one graph per chunk)\n")
    print(markdown_table(rows, list(dict.fromkeys(k for row in rows for k in row))))
    return failures


def _metric_rows(rows: list, workload, rounds: int) -> int:
    """evaluate with graphs on against off, on the last workload."""
    from floor import scoring_floor

    failures = 0
    name, model, x, labels, _ = workload
    saliency = torch.rand(x.shape[0], *x.shape[-2:], generator=torch.Generator().manual_seed(0)).to(x.device)
    for group in ("insertion + deletion", "SIC + AIC, MS-SSIM"):
        options, per_image = METRIC_GROUPS[group]
        found = {
            graphs: evaluate(model, x, saliency, labels, graphs=graphs, show_progress=False, **options)
            for graphs in (False, True)
        }
        error = max(
            float((found[True].per_image[key] - found[False].per_image[key]).abs().nan_to_num(0).max())
            for key in found[False].per_image
        )
        passed = error <= 1e-6
        failures += not passed
        floor = timed(lambda: scoring_floor(model, x, labels, per_image, CHUNK), rounds)
        seconds = {
            graphs: timed(
                lambda: evaluate(model, x, saliency, labels, graphs=graphs, show_progress=False, **options),
                rounds,
            )
            for graphs in (False, True)
        }
        rows.append(
            {
                "workload": name,
                "entry": f"metrics: {group} (× scoring floor)",
                "off s": seconds[False],
                "on s": seconds[True],
                "off × floor": seconds[False] / floor,
                "on × floor": seconds[True] / floor,
                "max diff": error,
                "pass": passed,
            }
        )
    return failures


def _test_rows(rows: list) -> int:
    """tests/runtime/test_graphs.py on the card, compiled kernels."""
    failures = 0
    try:
        import pytest  # noqa: F401

        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/runtime/test_graphs.py"],
            capture_output=True,
            text=True,
            env={**os.environ, "TRITON_INTERPRET": "0"},  # compiled kernels: conftest would interpret
        )
        summary = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr[-300:]
        rows.append(
            {
                "workload": "tests/runtime/test_graphs.py on CUDA",
                "entry": summary,
                "pass": tests.returncode == 0,
            }
        )
        failures += tests.returncode != 0
        if tests.returncode:
            print(tests.stdout[-3000:])
    except ImportError:
        rows.append(
            {"workload": "tests/runtime/test_graphs.py on CUDA", "entry": "pytest is not installed here"}
        )
    return failures
