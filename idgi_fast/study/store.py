"""The study's SQLite database: every finished piece of work is written in one transaction
together with the row that marks it done, so a killed run loses at most the batch it was on
and a re-run skips everything that is marked done.

Tables (keys in brackets):
  meta     [key] → value                 schema version, package version, and "settings": the
           study's identity (identity.study_settings: what decides every stored value), JSON
  runs     [run] → started, finished, seconds, config (JSON), versions (JSON), device, rank, world
  done     [model, method, steps, image] → run, seconds (explaining + scoring this image's batch, per image)
  scores   [model, method, steps, idgi, count, image, metric] → value (NULL where a skip rule
           dropped the image)
  curves   [model, method, steps, idgi, count, image, curve] → points (float64 bytes)
  skips    [model, method, steps, idgi, count, image, metric] → reasons (comma-separated)
  images   [model, image] → label, predicted, probability, status ("used", "misclassified" or
           "unreadable"), why: each image's filtering decision, made once per model (the cache)

`steps` is the run's step count m; `count` the compute_at count n the scores belong to
(n = m without compute_at); `idgi` 0 for the base method, 1 for its IDGI variant.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL,
    seconds REAL, config TEXT NOT NULL, versions TEXT NOT NULL, device TEXT NOT NULL, rank INTEGER NOT NULL,
    world INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS done (model TEXT NOT NULL, method TEXT NOT NULL, steps INTEGER NOT NULL,
    image TEXT NOT NULL, run INTEGER NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (model, method, steps, image));
CREATE TABLE IF NOT EXISTS scores (model TEXT NOT NULL, method TEXT NOT NULL, steps INTEGER NOT NULL,
    idgi INTEGER NOT NULL, count INTEGER NOT NULL, image TEXT NOT NULL, metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (model, method, steps, idgi, count, image, metric));
CREATE TABLE IF NOT EXISTS curves (model TEXT NOT NULL, method TEXT NOT NULL, steps INTEGER NOT NULL,
    idgi INTEGER NOT NULL, count INTEGER NOT NULL, image TEXT NOT NULL, curve TEXT NOT NULL,
    points BLOB NOT NULL,
    PRIMARY KEY (model, method, steps, idgi, count, image, curve));
CREATE TABLE IF NOT EXISTS skips (model TEXT NOT NULL, method TEXT NOT NULL, steps INTEGER NOT NULL,
    idgi INTEGER NOT NULL, count INTEGER NOT NULL, image TEXT NOT NULL, metric TEXT NOT NULL,
    reasons TEXT NOT NULL,
    PRIMARY KEY (model, method, steps, idgi, count, image, metric));
CREATE TABLE IF NOT EXISTS images (model TEXT NOT NULL, image TEXT NOT NULL, label INTEGER, predicted INTEGER,
    probability REAL, status TEXT NOT NULL, why TEXT NOT NULL, PRIMARY KEY (model, image));
"""
RESULT_TABLES = (
    "done",
    "scores",
    "curves",
    "skips",
    "images",
)  # what a study produced (runs and meta describe it)


class IncompatibleDatabase(RuntimeError):
    """The --db file cannot hold this study: not SQLite, damaged, another application's, another
    schema, or a study of other settings. The message says which and what to do."""


SQLITE_HEADER = b"SQLite format 3\x00"


def check_database_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a path that is a folder or a file that is not SQLite."""
    if path.is_dir():
        raise IncompatibleDatabase(
            f"{path} is a folder; give --db a file path such as {path / 'study.sqlite'}"
        )
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise IncompatibleDatabase(
            f"cannot read the database {path} ({error.strerror}); check its permissions"
        )
    if header != SQLITE_HEADER:
        raise IncompatibleDatabase(
            f"{path} is not a SQLite database (it does not start with SQLite's header); give --db a new file "
            "path, or the database an earlier `idgi-fast run` wrote"
        )


@dataclass
class ImageResult:
    """Everything one image contributes for one (model, method, steps)."""

    image: str
    scores: list[tuple[int, int, str, float]] = field(default_factory=list)  # (idgi, count, metric, value)
    curves: list[tuple[int, int, str, np.ndarray]] = field(
        default_factory=list
    )  # (idgi, count, curve, points)
    skips: list[tuple[int, int, str, list[str]]] = field(
        default_factory=list
    )  # (idgi, count, metric, reasons)


def _value(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


class Store:
    """One study database. Opening checks the schema version; every write is a transaction."""

    def __init__(self, path: str | Path, package_version: str):
        self.path = Path(path)
        check_database_file(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(self.path, timeout=60.0)
        except (OSError, sqlite3.Error) as error:
            raise IncompatibleDatabase(
                f"cannot open or create the database {self.path} ({error}); give --db a path in a folder you "
                "can write to"
            ) from None
        try:
            self._open(package_version)
        except sqlite3.DatabaseError as error:
            self.connection.close()
            if "locked" in str(error) or "full" in str(error):
                raise
            raise IncompatibleDatabase(
                f"{self.path} cannot be read as a study database ({error}); restore it from a copy, or "
                "write to a new --db file"
            ) from None
        except IncompatibleDatabase:
            self.connection.close()
            raise

    def _open(self, package_version: str) -> None:
        """Integrity first (nothing is written to a damaged file), then ownership, then the schema."""
        problems = [row[0] for row in self.connection.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise IncompatibleDatabase(
                f"{self.path} is damaged: SQLite's integrity check reports {'; '.join(problems[:3])}. "
                "Nothing was written to it. Restore it from a copy, or start again with a new --db file."
            )
        tables = {
            row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        ours = {"meta", "runs", "done", "scores", "curves", "skips", "images"}
        foreign = sorted(tables - ours - {"sqlite_sequence"})
        found = (
            dict(self.connection.execute("SELECT key, value FROM meta").fetchall())
            if "meta" in tables
            else {}
        )
        if foreign or (tables and "schema_version" not in found):
            shown = ", ".join(foreign[:5] or sorted(tables)[:5])
            raise IncompatibleDatabase(
                f"{self.path} is a SQLite database of another application (tables {shown}); idgi-fast "
                "leaves it alone. Give --db a new file path."
            )
        self.connection.execute("PRAGMA journal_mode=WAL")
        with self.connection:
            self.connection.executescript(SCHEMA)
            if not found:
                self.connection.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("created_by", package_version)],
                )
        if found and found.get("schema_version") != str(SCHEMA_VERSION):
            raise IncompatibleDatabase(
                f"{self.path} was written with database schema {found.get('schema_version')!r} by idgi-fast "
                f"{found.get('created_by', '?')}; this version reads schema {SCHEMA_VERSION}. Write to a new "
                "--db file, or report from it with the version that wrote it."
            )

    def settings(self) -> dict | None:
        """The study identity recorded by the first run (None before any)."""
        row = self.connection.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
        return None if row is None else json.loads(row[0])

    def record_settings(self, settings: dict) -> None:
        with self.connection:
            self.connection.execute(
                "INSERT OR REPLACE INTO meta VALUES ('settings', ?)", (json.dumps(settings, sort_keys=True),)
            )

    def close(self) -> None:
        self.connection.close()

    def start_run(self, config: dict, versions: dict, device: str, rank: int = 0, world: int = 1) -> int:
        with self.connection:
            cursor = self.connection.execute(
                "INSERT INTO runs (started, config, versions, device, rank, world) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    json.dumps(config, sort_keys=True),
                    json.dumps(versions, sort_keys=True),
                    device,
                    rank,
                    world,
                ),
            )
        return int(cursor.lastrowid)

    def finish_run(self, run: int, seconds: float) -> None:
        with self.connection:
            self.connection.execute(
                "UPDATE runs SET finished = ?, seconds = ? WHERE run = ?", (time.time(), seconds, run)
            )

    def finished_images(
        self, model: str, method: str, steps: int, counts: Iterable[int] | None = None
    ) -> set[str]:
        """Images marked done for (model, method, steps) that also hold scores at every one of
        `counts` (a later run may ask a compute_at run for more counts than the first did)."""
        done = {
            row[0]
            for row in self.connection.execute(
                "SELECT image FROM done WHERE model = ? AND method = ? AND steps = ?", (model, method, steps)
            )
        }
        counts = sorted(set(counts or ()))
        if not counts or not done:
            return done
        marks = ", ".join("?" * len(counts))
        complete = self.connection.execute(
            "SELECT image FROM scores WHERE model = ? AND method = ? AND steps = ? AND idgi = 0 "
            f"AND metric = 'completeness_gap' AND count IN ({marks}) GROUP BY image HAVING COUNT(*) = ?",
            (model, method, steps, *counts, len(counts)),
        )
        return done & {row[0] for row in complete}

    def image_decisions(self, model: str) -> dict[str, str]:
        """image → status of every image already filtered for `model`."""
        return dict(self.connection.execute("SELECT image, status FROM images WHERE model = ?", (model,)))

    def record(
        self,
        run: int,
        model: str,
        method: str,
        steps: int,
        results: Iterable[ImageResult],
        seconds_per_image: float,
        decisions: Iterable[tuple] = (),
    ) -> None:
        """Write a batch's results, its images' filtering decisions (image, label, predicted,
        probability, status, why) and the done-marks, all or nothing."""
        key = (model, method, steps)
        with self.connection:
            self.connection.executemany(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(model, *decision) for decision in decisions],
            )
            for result in results:
                self.connection.executemany(
                    "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (*key, idgi, count, result.image, metric, _value(value))
                        for idgi, count, metric, value in result.scores
                    ],
                )
                self.connection.executemany(
                    "INSERT OR REPLACE INTO curves VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            *key,
                            idgi,
                            count,
                            result.image,
                            curve,
                            np.asarray(points, dtype=np.float64).tobytes(),
                        )
                        for idgi, count, curve, points in result.curves
                    ],
                )
                self.connection.executemany(
                    "INSERT OR REPLACE INTO skips VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (*key, idgi, count, result.image, metric, ",".join(reasons))
                        for idgi, count, metric, reasons in result.skips
                        if reasons
                    ],
                )
                self.connection.execute(
                    "INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?, ?, ?)",
                    (*key, result.image, run, seconds_per_image),
                )

    def merge(self, shard: str | Path) -> int:
        """Copy a shard database (one rank's, same schema) into this one in one transaction; its
        runs get new numbers here. Idempotent: merging the same shard twice changes nothing more.
        Returns the number of done-marks the shard held."""
        Store(shard, "merge").close()  # refuses a shard of another schema
        self.connection.execute("ATTACH DATABASE ? AS shard", (str(shard),))
        try:
            with self.connection:
                renumbered = {}
                for row in self.connection.execute("SELECT * FROM shard.runs ORDER BY run").fetchall():
                    cursor = self.connection.execute(
                        "INSERT INTO runs (started, finished, seconds, config, versions, device, rank, "
                        "world) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        row[1:],
                    )
                    renumbered[row[0]] = cursor.lastrowid
                for table in ("scores", "curves", "skips", "images"):
                    self.connection.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM shard.{table}")
                done = self.connection.execute("SELECT * FROM shard.done").fetchall()
                self.connection.executemany(
                    "INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?, ?, ?)",
                    [(*row[:4], renumbered.get(row[4], row[4]), row[5]) for row in done],
                )
        finally:
            self.connection.execute("DETACH DATABASE shard")
        return len(done)

    def image_scores(self, model, method, steps, idgi, count, metric) -> dict[str, float]:
        """Each image's value of `metric` for one (model, method, steps, idgi, count), NULLs left out."""
        rows = self.connection.execute(
            "SELECT image, value FROM scores WHERE model = ? AND method = ? AND steps = ? AND idgi = ? "
            "AND count = ? AND metric = ? AND value IS NOT NULL ORDER BY image",
            (model, method, steps, idgi, count, metric),
        )
        return dict(rows.fetchall())

    def kept_curves(self, model, method, steps, idgi, count, metric) -> dict[str, np.ndarray]:
        """Each image's SIC/AIC curve of `metric`, for the images no skip rule dropped (its score
        is not NULL), in image order."""
        rows = self.connection.execute(
            "SELECT c.image, c.points FROM curves c JOIN scores s USING (model, method, steps, idgi, count, "
            "image) WHERE c.model = ? AND c.method = ? AND c.steps = ? AND c.idgi = ? AND c.count = ? "
            "AND c.curve = ? AND s.metric = ? AND s.value IS NOT NULL ORDER BY c.image",
            (model, method, steps, idgi, count, metric, metric),
        )
        return {image: np.frombuffer(points, dtype=np.float64) for image, points in rows.fetchall()}

    def results(self, table: str) -> list[tuple]:
        """Every row of a result table in key order, without the per-run columns: what two runs
        of the same study must agree on."""
        if table not in RESULT_TABLES:
            raise ValueError(f"table must be one of {RESULT_TABLES}, got {table!r}")
        if table == "done":
            return self.connection.execute(
                "SELECT model, method, steps, image FROM done ORDER BY model, method, steps, image"
            ).fetchall()
        if table == "images":
            return self.connection.execute("SELECT * FROM images ORDER BY model, image").fetchall()
        return self.connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall()
