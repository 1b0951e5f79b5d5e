"""GPU check, section "precision": tf32 and bf16 against fp32, and channels-last weights, for
explain per method (error and time) and for evaluate's scoring passes (score changes and time)."""

from __future__ import annotations

import copy

import torch

from bench.gpu.backends import end_to_end_workloads
from bench.timing import CHUNK, METHODS, relative_l2, timed
from idgi_fast import evaluate, explain
from idgi_fast.utils.tables import markdown_table

PRECISIONS = ("tf32", "bf16")
# evaluate's groups timed per precision: the study's insertion + deletion, and the MS-SSIM axis
SCORING = {
    "insertion + deletion": dict(metrics=["insertion", "deletion"], insertion_canvas="blur"),
    "SIC + AIC, MS-SSIM": dict(metrics=["sic", "aic"], information=["msssim"]),
}


def check_precision(report: dict, device: str, rounds: int) -> int:
    """explain(precision=...) per method and evaluate(precision=...) per metric group, each
    against fp32 with the same weights, then with channels-last weights (a converted copy of the
    bench's own model)."""
    explained, scored = [], []
    for name, model, x, labels, steps in end_to_end_workloads(device):
        workload = f"{name.split(',')[0]}, steps={min(steps, 32)}"
        last = copy.deepcopy(model).to(memory_format=torch.channels_last)
        for method in METHODS:
            options = dict(target=labels, method=method, steps=min(steps, 32), idgi=True, batch_size=CHUNK)
            explained += _explain_rows(workload, method, model, last, x, options, rounds)
        saliency = explain(model, x, **options).idgi
        for group, metric_options in SCORING.items():
            options = dict(target=labels, batch_size=CHUNK, show_progress=False, **metric_options)
            scored += _evaluate_rows(f"{workload}, {group}", model, last, x, saliency, options, rounds)
    report["precision"], report["precision_metrics"] = explained, scored
    print(f"\n## explain(precision=...) against fp32 (relative L2 of the attribution; median of {rounds})\n")
    print(markdown_table(explained, list(explained[0])))
    print(f"\n## evaluate(precision=...) against fp32 on the fp32 IDGI maps (median of {rounds})\n")
    print(markdown_table(scored, list(scored[0])))
    return 0


def _variants(model, last):
    """(weights, precision, model) of every variant timed against the contiguous fp32 one."""
    found = [("contiguous", p, model) for p in PRECISIONS]
    return found + [("channels-last", p, last) for p in ("fp32", *PRECISIONS)]


def _explain_rows(workload, method, model, last, x, options, rounds) -> list[dict]:
    exact = explain(model, x, **options)
    exact_seconds = timed(lambda: explain(model, x, **options), rounds)
    exact_auc = _insertion(model, x, exact.idgi, options["target"])
    rows = []
    for weights, precision, chosen in _variants(model, last):
        got = explain(chosen, x, precision=precision, **options)
        seconds = timed(lambda: explain(chosen, x, precision=precision, **options), rounds)
        auc = _insertion(model, x, got.idgi, options["target"])
        rows.append(
            {
                "workload": workload,
                "method": method,
                "weights": weights,
                "precision": precision,
                "rel. L2 base": relative_l2(got.base, exact.base),
                "rel. L2 IDGI": relative_l2(got.idgi, exact.idgi),
                "IDGI gap": float(got.completeness_gap(idgi=True).max()),
                "mean |Δ insertion AUC|": float((auc - exact_auc).abs().mean()),
                "fp32 insertion AUC": float(exact_auc.mean()),
                "s": seconds,
                "× fp32 time": seconds / exact_seconds,
            }
        )
    return rows


def _insertion(model, x, attributions, target) -> torch.Tensor:
    """Insertion AUC of a map, scored at fp32 (so only the map differs)."""
    found = evaluate(
        model, x, attributions, target, metrics=["insertion"], show_progress=False, batch_size=CHUNK
    )
    return found.per_image["insertion/probability"]


def _evaluate_rows(workload, model, last, x, saliency, options, rounds) -> list[dict]:
    exact = evaluate(model, x, saliency, **options)
    exact_seconds = timed(lambda: evaluate(model, x, saliency, **options), rounds)
    rows = []
    for weights, precision, chosen in _variants(model, last):
        got = evaluate(chosen, x, saliency, precision=precision, **options)
        seconds = timed(lambda: evaluate(chosen, x, saliency, precision=precision, **options), rounds)
        moved = {
            key: float((got.per_image[key] - values).abs().nan_to_num().max())
            for key, values in exact.per_image.items()
        }
        rows.append(
            {
                "workload": workload,
                "weights": weights,
                "precision": precision,
                "largest per-image |Δ|": max(moved.values()),
                "where": max(moved, key=moved.get),
                "s": seconds,
                "× fp32 time": seconds / exact_seconds,
            }
        )
    return rows
