"""`idgi-fast report DB`: the study's tables from its database, as Markdown and CSV.

Rows are models; columns are each method and its IDGI variant. Insertion, Deletion and the
completeness gap aggregate by the mean over images; JPEG stability is −log10 of the mean
squared difference over pixels and images. SIC and AIC aggregate as evaluate does:
the point-wise median (SIC) or mean (AIC) of the kept images' curves, and the AUC of that
curve. A cell covers the images scored for it; a count that several runs produced comes
from the run with the most steps.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from ... import __version__
from ...utils.atomic import atomic_write_text
from ...utils.tables import markdown_table
from ..drawing import save_png
from ..inputs.recipes import ordered, recipe
from ..store.database import Store
from ..store.work import incomplete_work
from .claims import LEVEL, RESAMPLES, SEED
from .figures import first_image, path_images, road_curves, saliency_grid, scores_vs_steps
from .summary import Summary, cells_of, summarise

MEAN_METRICS = {
    "insertion/probability": "Insertion (probability)",
    "insertion/probability_ratio": "Insertion (probability ratio)",
    "deletion/probability": "Deletion (probability)",
    "completeness_gap": "|Σ attribution − (F(x) − F(x′))|",
    "energy_in_mask": "Localization: share of the attribution's energy inside the object mask",
    "pointing_game": "Localization: pointing game (the map's peak inside the object mask)",
    "stability/mse": "JPEG stability, −log10 of the mean squared difference of L1-normalised maps",
    "stability/mse_sum": "JPEG stability, −log10 of the mean squared difference of sum-normalised maps (the "
    "study's)",
    "road/morf/probability": "ROAD MoRF: area under the target's probability (lower is more faithful)",
    "road/lerf/probability": "ROAD LeRF: area under the target's probability (higher is more faithful)",
    "road/morf/accuracy": "ROAD MoRF: area under the accuracy",
    "road/lerf/accuracy": "ROAD LeRF: area under the accuracy",
}
CURVE_METRICS = {
    "sic/entropy": ("SIC, entropy axis", "median"),
    "aic/entropy": ("AIC, entropy axis", "mean"),
    "sic/msssim": ("SIC, MS-SSIM axis", "median"),
    "aic/msssim": ("AIC, MS-SSIM axis", "mean"),
}


@dataclass
class Table:
    name: str
    title: str
    rows: list[dict]

    def markdown(self) -> str:
        columns = list(self.rows[0]) if self.rows else ["model"]
        return f"### {self.title}\n\n{markdown_table(self.rows, columns)}\n"

    def csv(self) -> str:
        buffer = io.StringIO()
        if self.rows:
            writer = csv.DictWriter(buffer, fieldnames=list(self.rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(self.rows)
        return buffer.getvalue()


def study_tables(store: Store, summary: Summary | None = None) -> list[Table]:
    """The score tables at each step count and the step-sensitivity tables; `summary` is the
    database's summarise(…) when already computed."""
    summary = summary or summarise(store, claims=False)
    cells = summary.cells
    if not cells:
        raise ValueError(f"{store.path} holds no scores yet: run `idgi-fast run --db {store.path}` first")
    models = sorted({key[0] for key in cells})
    methods = ordered(key[1] for key in cells)
    counts = sorted({key[3] for key in cells})
    present = summary.metrics
    metrics = [m for m in (*MEAN_METRICS, *CURVE_METRICS) if m in present]
    titles = {**MEAN_METRICS, **{k: v[0] for k, v in CURVE_METRICS.items()}}
    value = summary.value

    tables = []
    for count in counts:
        for metric in metrics:
            rows = [
                {
                    "model": model,
                    **{
                        recipe(method).variant_title(idgi): value(model, method, idgi, count, metric)
                        for method in methods
                        for idgi in (0, 1)
                    },
                }
                for model in models
            ]
            tables.append(
                Table(f"{metric.replace('/', '_')}_steps{count}", f"{titles[metric]} — steps = {count}", rows)
            )
    if len(counts) > 1:
        low, high = counts[0], counts[-1]
        for metric in metrics:
            rows = [
                {
                    "model": model,
                    **{
                        recipe(method).variant_title(idgi): value(model, method, idgi, high, metric)
                        - value(model, method, idgi, low, metric)
                        for method in methods
                        for idgi in (0, 1)
                    },
                }
                for model in models
            ]
            tables.append(
                Table(
                    f"{metric.replace('/', '_')}_sensitivity_{low}_{high}",
                    f"Step sensitivity of {titles[metric]}: steps {high} − steps {low}",
                    rows,
                )
            )
    return tables


@dataclass
class Report:
    """Everything `idgi-fast report` writes, built from the database; `incomplete` says what the
    latest run's settings ask for that is not in it yet (None when the study is complete), and
    `unchecked` why that could not be told (None when it was)."""

    db: Path
    tables: list[Table]
    images: int
    figure: Image.Image | None
    grid: Image.Image | None
    example: torch.Tensor | None
    incomplete: str | None
    road: Image.Image | None = None
    unchecked: str | None = None
    claims: Table | None = None
    claims_resamples: int = RESAMPLES
    numerics: str = ""  # how the model was evaluated, when not exact float32 (docs/backends.md §13)

    def write(self, out: str | Path) -> list[Path]:
        """Every table as CSV, all of them in report.md and the figures as PNG under `out`;
        returns the files written, report.md last."""
        out = Path(out)
        tables = self.tables + ([self.claims] if self.claims is not None else [])
        written = [atomic_write_text(out / f"{table.name}.csv", table.csv()) for table in tables]
        if self.figure is not None:
            written.append(save_png(self.figure, out / "scores_vs_steps.png"))
        if self.grid is not None:
            written.append(save_png(self.grid, out / "saliency_grid.png"))
        if self.road is not None:
            written.append(save_png(self.road, out / "road_curves.png"))
        if self.example is not None:
            written.append(save_png(path_images(self.example), out / "paths.png"))
        written.append(atomic_write_text(out / "report.md", self.markdown()))
        return written

    def markdown(self) -> str:
        sections = defaultdict(list)
        for table in self.tables:
            sections["sensitivity" if "sensitivity" in table.name else "scores"].append(table.markdown())
        warning = (
            f"\n\n**Incomplete study.** Not in the database yet: {self.incomplete}. The tables cover the "
            "images done so far; run the same `idgi-fast run` command again to finish."
            if self.incomplete
            else f"\n\nCompleteness was not checked: {self.unchecked}."
            if self.unchecked
            else ""
        )
        return (
            f"# Study report\n\n{self.db}: {self.images} images{self.numerics}. Columns: each method and its "
            "IDGI variant; SIC/AIC are the AUC of the median (SIC) or mean (AIC) curve of the images no skip "
            "rule dropped."
            + warning
            + ("\n\n![scores against the step count](scores_vs_steps.png)" if self.figure is not None else "")
            + ("\n\n![saliency maps](saliency_grid.png)" if self.grid is not None else "")
            + ("\n\n![ROAD's MoRF and LeRF curves](road_curves.png)" if self.road is not None else "")
            + (
                "\n\n![an image along the IG and Blur IG paths](paths.png)"
                if self.example is not None
                else ""
            )
            + "\n\n"
            + (self._claims_markdown() if self.claims is not None else "")
            + "\n".join(sections["scores"])
            + (
                "\n## Step sensitivity\n\n" + "\n".join(sections["sensitivity"])
                if sections["sensitivity"]
                else ""
            )
        )

    def _claims_markdown(self) -> str:
        verdicts = defaultdict(int)
        for row in self.claims.rows:
            verdicts[row["verdict"]] += 1
        counts = ", ".join(f"{verdicts[v]} {v}" for v in ("holds", "fails", "undecided"))
        return (
            "## The study's claims\n\n"
            f"{len(self.claims.rows)} checks: {counts}. Each row is IDGI − base of the aggregate "
            f"score (positive: the claim holds on this estimate) with a {LEVEL:.0%} percentile bootstrap "
            f"interval over images ({self.claims_resamples} resamples of the images, paired, seed {SEED}"
            + "); "
            "the verdict is *holds* when the whole interval is above 0, *fails* when it is below, else "
            "*undecided* (docs/study.md §11). JPEG stability comes under two normalisations: dividing "
            "each map by its signed sum (the study's) rescales an IDGI map, whose sum is exactly "
            "F(x) − F(x′), differently from a base map, whose sum also carries its completeness gap and can "
            "be near 0; dividing by the L1 norm compares the maps' shapes alone. The two can disagree on "
            "which is more stable.\n\n" + markdown_table(self.claims.rows, list(self.claims.rows[0])) + "\n\n"
            if self.claims.rows
            else ""
        )


def build_report(db: str | Path, resamples: int = RESAMPLES) -> Report:
    db = Path(db)
    if not db.exists():
        raise FileNotFoundError(f"no study database at {db}; create it with `idgi-fast run --db {db}`")
    if db.is_file() and db.stat().st_size == 0:  # refused before the Store would write its tables into it
        raise ValueError(f"{db} is an empty file, not a study yet: run `idgi-fast run --db {db}` first")
    store = Store(db, __version__)
    try:
        incomplete, unchecked = incomplete_work(store)
        cells = cells_of(store)
        if not cells:
            raise ValueError(f"{store.path} holds no scores yet: run `idgi-fast run --db {store.path}` first")
        summary = summarise(store, cells, resamples=resamples)
        return Report(
            db=db,
            tables=study_tables(store, summary),
            images=store.connection.execute("SELECT COUNT(DISTINCT image) FROM done").fetchone()[0],
            figure=scores_vs_steps(store, summary),
            grid=saliency_grid(store, db, cells=cells),
            example=first_image(store),
            incomplete=incomplete,
            road=road_curves(store, summary),
            unchecked=unchecked,
            claims=Table(
                "claims",
                "The study's claims: IDGI − base with bootstrap intervals",
                summary.claims,
            ),
            claims_resamples=resamples,
            numerics=_numerics(store.settings() or {}),
        )
    finally:
        store.close()


def _numerics(settings: dict) -> str:
    """The report's words for a study not run at exact float32 with contiguous weights."""
    chosen = [f"the model at {settings['precision']}"] if settings.get("precision", "fp32") != "fp32" else []
    chosen += ["channels-last weights"] if settings.get("channels_last") else []
    return f" ({', '.join(chosen)})" if chosen else ""


def write_report(db: str | Path, out: str | Path, resamples: int = RESAMPLES) -> list[Path]:
    """build_report(db, resamples).write(out): the files written, report.md last."""
    return build_report(db, resamples).write(out)
