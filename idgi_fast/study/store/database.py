"""The study's SQLite database: every finished piece of work is written in one transaction
together with the row that marks it done, so a killed run loses at most the batch it was on
and a re-run skips everything that is marked done.

What it holds, as schema 1's tables read it (schema 2, schema.py, stores them with integer keys
and views of these names and columns; a schema 1 database is migrated when opened):
  meta     [key] → value                 schema version, package version, and "settings": the
           study's identity (identity.study_settings: what decides every stored value), JSON
  runs     [run] → started, finished, seconds, config (JSON), versions (JSON), device, rank, world
  done     [model, method, steps, image] → run, seconds (explaining + scoring this image's batch, per image)
  scores   [model, method, steps, idgi, count, image, metric] → value (NULL where a skip rule
           dropped the image)
  curves   [model, method, steps, idgi, count, image, curve] → points (encoded, curves.py)
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

from . import schema
from .curves import decode_curve, encode_curve

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
        try:
            problems = [row[0] for row in self.connection.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as error:  # damage where the check itself cannot read
            if "locked" in str(error) or "busy" in str(error):
                raise
            problems = [str(error)]
        if problems != ["ok"]:
            raise IncompatibleDatabase(
                f"{self.path} is damaged: SQLite's integrity check reports {'; '.join(problems[:3])}. "
                "Nothing was written to it. Restore it from a copy, or start again with a new --db file."
            )
        tables = {
            row[0] for row in self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        foreign = sorted(tables - schema.TABLES - schema.VERSION_1_TABLES - {"sqlite_sequence"})
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
        if found.get("schema_version") == "1":
            schema.migrate_version_1(self.connection)  # all or nothing; the file keeps its place
            self.connection.execute("VACUUM")  # give back the old tables' pages (30 MB → 0.8 MB by default)
            found["schema_version"] = str(schema.SCHEMA_VERSION)
        if found and found.get("schema_version") != str(schema.SCHEMA_VERSION):
            raise IncompatibleDatabase(
                f"{self.path} was written with database schema {found.get('schema_version')!r} by idgi-fast "
                f"{found.get('created_by', '?')}; this version reads schemas 1 and "
                f"{schema.SCHEMA_VERSION}. Write to a new --db file, or report from it with the version that "
                "wrote it."
            )
        with self.connection:
            schema.create(self.connection, schema.SCHEMA)
            schema.create(self.connection, schema.VIEWS)
            if not found:
                self.connection.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(schema.SCHEMA_VERSION)), ("created_by", package_version)],
                )
        self._ids: dict[str, int] = {}

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

    def _id(self, name: str) -> int:
        """The integer key of a name (model, method, metric, curve or image), added when new."""
        found = self._ids.get(name)
        if found is None:
            self.connection.execute("INSERT OR IGNORE INTO names (name) VALUES (?)", (name,))
            found = self.connection.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()[0]
            self._ids[name] = found
        return found

    def _known(self, name: str) -> int | None:
        """The integer key of a name already stored; None (and nothing written) otherwise."""
        if name in self._ids:
            return self._ids[name]
        row = self.connection.execute("SELECT id FROM names WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def _map(self, model: int, method: int, steps: int, idgi: int, count: int, image: int) -> int:
        key = (model, method, steps, idgi, count, image)
        self.connection.execute(
            "INSERT OR IGNORE INTO maps (model, method, steps, idgi, count, image) VALUES (?, ?, ?, ?, ?, ?)",
            key,
        )
        return self.connection.execute(
            "SELECT id FROM maps WHERE model = ? AND method = ? AND steps = ? AND idgi = ? AND count = ? "
            "AND image = ?",
            key,
        ).fetchone()[0]

    def finished_images(
        self, model: str, method: str, steps: int, counts: Iterable[int] | None = None
    ) -> set[str]:
        """Images marked done for (model, method, steps) that also hold scores at every one of
        `counts` (a later run may ask a compute_at run for more counts than the first did)."""
        model_id, method_id = self._known(model), self._known(method)
        if model_id is None or method_id is None:
            return set()
        done = dict(
            self.connection.execute(
                "SELECT d.image, n.name FROM done_marks d JOIN names n ON n.id = d.image "
                "WHERE d.model = ? AND d.method = ? AND d.steps = ?",
                (model_id, method_id, steps),
            ).fetchall()
        )
        counts = sorted(set(counts or ()))
        gap = self._known("completeness_gap")
        if not counts or not done:
            return set(done.values())
        if gap is None:
            return set()
        marks = ", ".join("?" * len(counts))
        complete = self.connection.execute(
            "SELECT m.image FROM maps m JOIN map_scores s ON s.map = m.id WHERE m.model = ? AND m.method = ? "
            f"AND m.steps = ? AND m.idgi = 0 AND s.metric = ? AND m.count IN ({marks}) GROUP BY m.image "
            "HAVING COUNT(*) = ?",
            (model_id, method_id, steps, gap, *counts, len(counts)),
        )
        return {done[row[0]] for row in complete if row[0] in done}

    def image_decisions(self, model: str) -> dict[str, str]:
        """image → status of every image already filtered for `model`."""
        model_id = self._known(model)
        if model_id is None:
            return {}
        return dict(
            self.connection.execute(
                "SELECT n.name, d.status FROM decisions d JOIN names n ON n.id = d.image WHERE d.model = ?",
                (model_id,),
            )
        )

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
        try:
            self._record(run, model, method, steps, results, seconds_per_image, decisions)
        except BaseException:
            self._ids.clear()  # names added in the rolled-back transaction are gone
            raise

    def _record(self, run, model, method, steps, results, seconds_per_image, decisions) -> None:
        with self.connection:
            model_id, method_id = self._id(model), self._id(method)
            self.connection.executemany(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(model_id, self._id(image), *rest) for image, *rest in decisions],
            )
            for result in results:
                image = self._id(result.image)
                maps = {}

                def map_of(idgi: int, count: int) -> int:
                    if (idgi, count) not in maps:
                        maps[idgi, count] = self._map(model_id, method_id, steps, idgi, count, image)
                    return maps[idgi, count]

                self.connection.executemany(
                    "INSERT OR REPLACE INTO map_scores VALUES (?, ?, ?)",
                    [
                        (map_of(i, n), self._id(metric), _value(value))
                        for i, n, metric, value in result.scores
                    ],
                )
                self.connection.executemany(
                    "INSERT OR REPLACE INTO map_curves VALUES (?, ?, ?)",
                    [
                        (map_of(i, n), self._id(curve), encode_curve(points))
                        for i, n, curve, points in result.curves
                    ],
                )
                self.connection.executemany(
                    "INSERT OR REPLACE INTO map_skips VALUES (?, ?, ?)",
                    [
                        (map_of(i, n), self._id(metric), ",".join(reasons))
                        for i, n, metric, reasons in result.skips
                        if reasons
                    ],
                )
                self.connection.execute(
                    "INSERT OR REPLACE INTO done_marks VALUES (?, ?, ?, ?, ?, ?)",
                    (model_id, method_id, steps, image, run, seconds_per_image),
                )

    def merge(self, shard: str | Path) -> int:
        """Copy a shard database (one rank's, same schema) into this one in one transaction; its
        names and maps are keyed anew here and its runs get new numbers. Idempotent: merging the
        same shard twice changes nothing more. Returns the number of done-marks the shard held."""
        Store(shard, "merge").close()  # refuses a shard of another schema, migrates a schema 1 one
        self.connection.execute("ATTACH DATABASE ? AS shard", (str(shard),))
        self._ids.clear()
        try:
            with self.connection:
                schema.merge_attached(self.connection)
                done = self.connection.execute("SELECT COUNT(*) FROM shard.done_marks").fetchone()[0]
        finally:
            for table in ("name_keys", "map_keys", "run_keys"):
                self.connection.execute(f"DROP TABLE IF EXISTS temp.{table}")
            self.connection.execute("DETACH DATABASE shard")
        return done

    def results(self, table: str) -> list[tuple]:
        """Every row of a result table in key order, without the per-run columns: what two runs
        of the same study must agree on (curves as their float64 points)."""
        if table not in RESULT_TABLES:
            raise ValueError(f"table must be one of {RESULT_TABLES}, got {table!r}")
        if table == "done":
            return self.connection.execute(
                "SELECT model, method, steps, image FROM done ORDER BY model, method, steps, image"
            ).fetchall()
        if table == "images":
            return self.connection.execute("SELECT * FROM images ORDER BY model, image").fetchall()
        rows = self.connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall()
        if table == "curves":
            rows = [(*row[:7], decode_curve(row[7]).tobytes()) for row in rows]
        return rows
