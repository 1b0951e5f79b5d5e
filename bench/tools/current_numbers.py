"""bench/RESULTS.md's first page: the latest row of each timed thing in bench/data/results.csv,
one table per area (ops, end to end), each row naming the command that measures it; the journal
below the page is left as it is.

    .venv/bin/python -m bench.tools.current_numbers      # after `pytest bench/` or the GPU check
"""

from __future__ import annotations

from pathlib import Path

from bench import results
from idgi_fast.ops.catalogue import OPS
from idgi_fast.utils.tables import markdown_table

RESULTS_MD = Path(__file__).resolve().parents[1] / "RESULTS.md"
START, END = "<!-- current numbers: begin -->", "<!-- current numbers: end -->"
# ops whose benchmark lives in another op's module
MODULE_OF = {"squared_norms": "accumulate", "quantise_hwc": "quantise"}


def command(row: dict) -> str:
    if row["op"] in OPS:
        return f"pytest bench/ops/{MODULE_OF.get(row['op'], row['op'])}.py"
    return "pytest bench/end_to_end/"


def page(rows: list[dict]) -> str:
    areas = {"Ops (one benchmark per op)": [], "End to end (against the model-only floors)": []}
    for row in rows:
        area = (
            "Ops (one benchmark per op)" if row["op"] in OPS else "End to end (against the model-only floors)"
        )
        areas[area].append(
            {
                "what": row["op"],
                "backend": row["backend"],
                "shape": row["shape"],
                "dtype": row["dtype"],
                "device": row["device"],
                "median s": f"{float(row['median']):.4g}",
                "p20–p80 s": f"{float(row['p20']):.4g}–{float(row['p80']):.4g}",
                "commit, date": f"{row['commit']}, {row['date']}",
                "command": f"`{command(row)}`",
            }
        )
    parts = [
        START,
        "# Current numbers",
        "",
        "The latest measurement of each timed thing (bench/data/results.csv, written by `pytest bench/`",
        "and the GPU check; this page by `python -m bench.tools.current_numbers`). The journal below",
        "keeps every measurement with its context.",
    ]
    for title, found in areas.items():
        if found:
            parts += ["", f"## {title}", "", markdown_table(found, list(found[0]))]
    return "\n".join(parts + ["", END, ""])


def main() -> None:
    text = RESULTS_MD.read_text()
    if START in text:
        text = text[text.index(END) + len(END) :].lstrip("\n")
    RESULTS_MD.write_text(page(results.latest()) + "\n" + text)


if __name__ == "__main__":
    main()
