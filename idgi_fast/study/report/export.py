"""`idgi-fast report --export parquet`: every per-image score of a study as one Parquet file, for
people who analyse results in pandas, polars or DuckDB.

Long (tidy) layout, one row per score: model, method, steps (the run's), idgi, count, image,
metric, value (null where a skip rule dropped the image). Names are dictionary-encoded, so the
file stays close to the database's size; it is written run by run in row groups, so memory holds
one run's scores, and atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ... import __version__
from ..store.database import Store

FORMATS = ("parquet",)
_RUNS = "SELECT DISTINCT model, method, steps FROM maps ORDER BY model, method, steps"
_SCORES = (
    "SELECT m.idgi, m.count, m.image, t.metric, t.value FROM maps m JOIN map_scores t ON t.map = m.id "
    "WHERE m.model = ? AND m.method = ? AND m.steps = ? ORDER BY m.idgi, m.count, m.image, t.metric"
)


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:  # the message names the fix (the CLI prints it without a traceback)
        raise ValueError(
            "--export parquet needs pyarrow: pip install 'idgi-fast[parquet]' (or pip install pyarrow)"
        ) from None
    return pyarrow, pyarrow.parquet


def export_scores(store: Store, path: str | Path) -> Path:
    """Write every score of `store` to the Parquet file `path` (module docstring); returns it."""
    pa, pq = _pyarrow()
    path = Path(path)
    names = store.connection.execute("SELECT id, name FROM names ORDER BY id").fetchall()
    position = np.zeros(max((key for key, _ in names), default=0) + 1, dtype=np.int32)
    position[[key for key, _ in names]] = np.arange(len(names), dtype=np.int32)
    dictionary = pa.array([name for _, name in names], type=pa.string())
    text = pa.dictionary(pa.int32(), pa.string())
    schema = pa.schema(
        [
            ("model", text),
            ("method", text),
            ("steps", pa.int32()),
            ("idgi", pa.bool_()),
            ("count", pa.int32()),
            ("image", text),
            ("metric", text),
            ("value", pa.float64()),
        ]
    )

    def names_of(keys) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(
            pa.array(position[np.asarray(keys, dtype=np.int64)]), dictionary
        )

    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with pq.ParquetWriter(temporary, schema) as writer:
            for model, method, steps in store.connection.execute(_RUNS).fetchall():
                rows = store.connection.execute(_SCORES, (model, method, steps)).fetchall()
                if not rows:
                    continue
                idgi, count, image, metric, value = zip(*rows)
                columns = [
                    names_of(np.full(len(rows), model)),
                    names_of(np.full(len(rows), method)),
                    pa.array(np.full(len(rows), steps, dtype=np.int32)),
                    pa.array(np.asarray(idgi, dtype=bool)),
                    pa.array(np.asarray(count, dtype=np.int32)),
                    names_of(image),
                    names_of(metric),
                    pa.array(value, type=pa.float64()),
                ]
                writer.write_table(pa.Table.from_arrays(columns, schema=schema))
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def export_study(db: str | Path, folder: str | Path, format: str = "parquet") -> Path:
    """`idgi-fast report DB --export FORMAT`: the scores of the study at `db` as
    `folder`/scores.parquet; returns the file."""
    if format not in FORMATS:
        raise ValueError(f"--export must be one of {FORMATS}, got {format!r}")
    _pyarrow()  # before the database is opened: a missing pyarrow is said first
    store = Store(db, __version__)
    try:
        return export_scores(store, Path(folder) / "scores.parquet")
    finally:
        store.close()
