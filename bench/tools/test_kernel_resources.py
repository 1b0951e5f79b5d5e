"""The compiled-resource report (bench/tools/kernel_resources.py) runs, and its JSON rows carry what
scripts read: one per launched kernel × specialization × target, from the compiler."""

from __future__ import annotations

import json

from bench.tools.kernel_resources import main
from idgi_fast.ops.launches import TARGETS, all_launches, kernel_functions

KEYS = {
    "kernel",
    "target",
    "signature",
    "constexprs",
    "divisible_by_16",
    "num_warps",
    "num_stages",
    "registers",
    "spill_bytes",
    "shared_bytes",
    "why_spill_accepted",
}


def test_the_report_writes_a_row_per_kernel_specialization_and_target(tmp_path, capsys):
    path = tmp_path / "rows.json"
    assert main(["--json", str(path)]) == 0
    rows = json.loads(path.read_text())
    assert len(rows) == len(all_launches()) * len(TARGETS)
    assert all(KEYS <= set(row) for row in rows)
    assert {row["kernel"] for row in rows} == set(kernel_functions())
    assert {row["target"] for row in rows} == set(TARGETS)
    assert "| accumulate_kernel |" in capsys.readouterr().out
