"""The study database's layout (schema 2) and the migration of schema 1 databases into it.

Schema 2 keeps every name once (`names`: models, methods, metrics, curves, images) and keys the
results by integers: a `maps` row per (model, method, steps, idgi, count, image), its scores,
curves (encoded by curves.py: the points where the curve bends) and skips per map. Views with
schema 1's table names and columns (`scores`, `curves`, `skips`, `done`, `images`) read it as
before, for SQL users and pandas/DuckDB alike; `curves.points` holds the encoded form
(`idgi_fast.study.curves.decode_curve` gives the float64 points back).
"""

from __future__ import annotations

import sqlite3

import numpy as np

from .curves import encode_curve

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY AUTOINCREMENT, started REAL NOT NULL, finished REAL,
    seconds REAL, config TEXT NOT NULL, versions TEXT NOT NULL, device TEXT NOT NULL, rank INTEGER NOT NULL,
    world INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS maps (id INTEGER PRIMARY KEY, model INTEGER NOT NULL, method INTEGER NOT NULL,
    steps INTEGER NOT NULL, idgi INTEGER NOT NULL, count INTEGER NOT NULL, image INTEGER NOT NULL,
    UNIQUE (model, method, steps, idgi, count, image));
CREATE TABLE IF NOT EXISTS map_scores (map INTEGER NOT NULL, metric INTEGER NOT NULL, value REAL,
    PRIMARY KEY (map, metric)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_curves (map INTEGER NOT NULL, curve INTEGER NOT NULL, points BLOB NOT NULL,
    PRIMARY KEY (map, curve)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS map_skips (map INTEGER NOT NULL, metric INTEGER NOT NULL, reasons TEXT NOT NULL,
    PRIMARY KEY (map, metric)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS done_marks (model INTEGER NOT NULL, method INTEGER NOT NULL,
    steps INTEGER NOT NULL, image INTEGER NOT NULL, run INTEGER NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (model, method, steps, image)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS decisions (model INTEGER NOT NULL, image INTEGER NOT NULL, label INTEGER,
    predicted INTEGER, probability REAL, status TEXT NOT NULL, why TEXT NOT NULL,
    PRIMARY KEY (model, image)) WITHOUT ROWID;
"""
_MAP_VIEW = (
    "CREATE VIEW IF NOT EXISTS {view} AS SELECT mo.name AS model, me.name AS method, m.steps, m.idgi, "
    "m.count, im.name AS image, mt.name AS {key}, t.{value} FROM {table} t JOIN maps m ON m.id = t.map "
    "JOIN names mo ON mo.id = m.model JOIN names me ON me.id = m.method JOIN names im ON im.id = m.image "
    "JOIN names mt ON mt.id = t.{key}"
)
_SCORES = _MAP_VIEW.format(view="scores", key="metric", value="value", table="map_scores")
_CURVES = _MAP_VIEW.format(view="curves", key="curve", value="points", table="map_curves")
_SKIPS = _MAP_VIEW.format(view="skips", key="metric", value="reasons", table="map_skips")
VIEWS = f"""
{_SCORES};
{_CURVES};
{_SKIPS};
CREATE VIEW IF NOT EXISTS done AS SELECT mo.name AS model, me.name AS method, d.steps, im.name AS image,
    d.run, d.seconds FROM done_marks d JOIN names mo ON mo.id = d.model JOIN names me ON me.id = d.method
    JOIN names im ON im.id = d.image;
CREATE VIEW IF NOT EXISTS images AS SELECT mo.name AS model, im.name AS image, d.label, d.predicted,
    d.probability, d.status, d.why FROM decisions d JOIN names mo ON mo.id = d.model
    JOIN names im ON im.id = d.image;
"""
TABLES = {"meta", "runs", "names", "maps", "map_scores", "map_curves", "map_skips", "done_marks", "decisions"}
VERSION_1_TABLES = {"meta", "runs", "done", "scores", "curves", "skips", "images"}
_MAPS_OF = (
    "INSERT OR IGNORE INTO maps (model, method, steps, idgi, count, image) SELECT DISTINCT a.id, b.id, "
    "v.steps, v.idgi, v.count, c.id FROM {table} v JOIN names a ON a.name = v.model "
    "JOIN names b ON b.name = v.method JOIN names c ON c.name = v.image"
)
_MAP_OF = (
    "SELECT m.id FROM maps m JOIN names a ON a.id = m.model JOIN names b ON b.id = m.method "
    "JOIN names c ON c.id = m.image WHERE a.name = v.model AND b.name = v.method AND m.steps = v.steps "
    "AND m.idgi = v.idgi AND m.count = v.count AND c.name = v.image"
)


def migrate_version_1(connection: sqlite3.Connection) -> None:
    """Rewrite a schema 1 database as schema 2, in one transaction (all or nothing): its tables
    renamed aside, schema 2 created and filled from them, curves encoded, the old tables dropped."""
    old = sorted(VERSION_1_TABLES - {"meta", "runs"})
    connection.execute("BEGIN IMMEDIATE")  # DDL too: the sqlite3 module would run it outside a transaction
    try:
        for table in old:
            connection.execute(f"ALTER TABLE {table} RENAME TO v1_{table}")
        create(connection, SCHEMA)
        names = " UNION ".join(
            f"SELECT {column} FROM v1_{table}"
            for table, columns in {
                "done": ("model", "method", "image"),
                "scores": ("metric",),
                "curves": ("curve",),
                "skips": ("metric",),
                "images": ("model", "image"),
            }.items()
            for column in columns
        )
        connection.execute(f"INSERT OR IGNORE INTO names (name) SELECT * FROM ({names})")
        for table in ("scores", "curves", "skips"):
            connection.execute(_MAPS_OF.format(table=f"v1_{table}"))
        connection.execute(
            f"INSERT INTO map_scores SELECT ({_MAP_OF}), (SELECT id FROM names WHERE name = v.metric), "
            "v.value FROM v1_scores v"
        )
        connection.execute(
            f"INSERT INTO map_skips SELECT ({_MAP_OF}), (SELECT id FROM names WHERE name = v.metric), "
            "v.reasons FROM v1_skips v"
        )
        rows = connection.execute(
            f"SELECT ({_MAP_OF}), (SELECT id FROM names WHERE name = v.curve), v.points FROM v1_curves v"
        )
        while batch := rows.fetchmany(4096):
            connection.executemany(
                "INSERT INTO map_curves VALUES (?, ?, ?)",
                [(map_id, curve, encode_curve(_dense(points))) for map_id, curve, points in batch],
            )
        connection.execute(
            "INSERT INTO done_marks SELECT a.id, b.id, v.steps, c.id, v.run, v.seconds FROM v1_done v "
            "JOIN names a ON a.name = v.model JOIN names b ON b.name = v.method "
            "JOIN names c ON c.name = v.image"
        )
        connection.execute(
            "INSERT INTO decisions SELECT a.id, c.id, v.label, v.predicted, v.probability, v.status, v.why "
            "FROM v1_images v JOIN names a ON a.name = v.model JOIN names c ON c.name = v.image"
        )
        for table in old:
            connection.execute(f"DROP TABLE v1_{table}")
        create(connection, VIEWS)
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise


def _dense(points: bytes) -> np.ndarray:
    return np.frombuffer(points, dtype=np.float64)


def create(connection: sqlite3.Connection, script: str) -> None:
    """Each statement of `script` inside the current transaction (executescript would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def merge_attached(connection: sqlite3.Connection) -> None:
    """Copy the attached database `shard` into main, inside the caller's transaction: names and
    maps keyed anew, runs renumbered (temp tables name_keys, map_keys, run_keys; the caller drops them)."""
    run = connection.execute
    run("CREATE TEMP TABLE run_keys (old INTEGER PRIMARY KEY, new INTEGER)")
    for row in run("SELECT * FROM shard.runs ORDER BY run").fetchall():
        cursor = run(
            "INSERT INTO runs (started, finished, seconds, config, versions, device, rank, world) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            row[1:],
        )
        run("INSERT INTO run_keys VALUES (?, ?)", (row[0], cursor.lastrowid))
    run("INSERT OR IGNORE INTO names (name) SELECT name FROM shard.names")
    run(
        "CREATE TEMP TABLE name_keys AS SELECT s.id AS old, n.id AS new FROM shard.names s "
        "JOIN main.names n ON n.name = s.name"
    )
    keyed = (
        "FROM shard.maps m JOIN name_keys a ON a.old = m.model JOIN name_keys b ON b.old = m.method "
        "JOIN name_keys c ON c.old = m.image"
    )
    run(
        "INSERT OR IGNORE INTO maps (model, method, steps, idgi, count, image) "
        f"SELECT a.new, b.new, m.steps, m.idgi, m.count, c.new {keyed}"
    )
    run(
        f"CREATE TEMP TABLE map_keys AS SELECT m.id AS old, t.id AS new {keyed} JOIN main.maps t ON "
        "t.model = a.new AND t.method = b.new AND t.steps = m.steps AND t.idgi = m.idgi "
        "AND t.count = m.count "
        "AND t.image = c.new"
    )
    for table, column in (("map_scores", "value"), ("map_curves", "points"), ("map_skips", "reasons")):
        key = "curve" if table == "map_curves" else "metric"
        run(
            f"INSERT OR REPLACE INTO {table} SELECT k.new, n.new, t.{column} FROM shard.{table} t "
            f"JOIN map_keys k ON k.old = t.map JOIN name_keys n ON n.old = t.{key}"
        )
    run(
        "INSERT OR REPLACE INTO done_marks SELECT a.new, b.new, d.steps, c.new, COALESCE(r.new, d.run), "
        "d.seconds "
        "FROM shard.done_marks d JOIN name_keys a ON a.old = d.model JOIN name_keys b ON b.old = d.method "
        "JOIN name_keys c ON c.old = d.image LEFT JOIN run_keys r ON r.old = d.run"
    )
    run(
        "INSERT OR REPLACE INTO decisions SELECT a.new, c.new, d.label, d.predicted, d.probability, "
        "d.status, "
        "d.why FROM shard.decisions d JOIN name_keys a ON a.old = d.model JOIN name_keys c ON c.old = d.image"
    )
