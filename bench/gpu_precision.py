"""GPU check, section "precision": tf32 and bf16 against fp32 per method, error and time."""

from __future__ import annotations

from gpu_backends import end_to_end_workloads
from gpu_timing import CHUNK, METHODS, relative_l2, timed

from idgi_fast import evaluate, explain
from idgi_fast.utils.tables import markdown_table


def check_precision(report: dict, device: str, rounds: int) -> int:
    """explain(precision=...): each fast precision's error against fp32, per method, and its time."""
    rows = []
    for name, model, x, labels, steps in end_to_end_workloads(device):
        steps = min(steps, 32)
        for method in METHODS:
            options = dict(target=labels, method=method, steps=steps, idgi=True, batch_size=CHUNK)
            exact = explain(model, x, **options)
            exact_seconds = timed(lambda: explain(model, x, **options), rounds)

            def insertion(result):
                scored = evaluate(
                    model,
                    x,
                    result.idgi,
                    labels,
                    metrics=["insertion"],
                    show_progress=False,
                    batch_size=CHUNK,
                )
                return scored.per_image["insertion/probability"]

            exact_auc = insertion(exact)
            for precision in ("tf32", "bf16"):
                got = explain(model, x, precision=precision, **options)
                seconds = timed(lambda: explain(model, x, precision=precision, **options), rounds)
                auc_change = float((insertion(got) - exact_auc).abs().mean())
                rows.append(
                    {
                        "workload": f"{name.split(',')[0]}, steps={steps}",
                        "method": method,
                        "precision": precision,
                        "rel. L2 base": relative_l2(got.base, exact.base),
                        "rel. L2 IDGI": relative_l2(got.idgi, exact.idgi),
                        "IDGI gap": float(got.completeness_gap(idgi=True).max()),
                        "mean |Δ insertion AUC|": auc_change,
                        "fp32 insertion AUC": float(exact_auc.mean()),
                        "s": seconds,
                        "× fp32 time": seconds / exact_seconds,
                    }
                )
    report["precision"] = rows
    print(f"\n## precision= against fp32 (relative L2 of the attribution; median of {rounds})\n")
    print(markdown_table(rows, list(rows[0])))
    return 0
