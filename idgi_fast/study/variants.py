"""Bulk reads of one variant's results — (model, method, steps, idgi, count) and a metric — as
arrays, for the report: images as their rank in name order (so sets of images intersect as sorted
integer arrays, and a variant's images come in the order the report and the claims have always
used), values as float64, curves decoded together (curves.decode_curves)."""

from __future__ import annotations

import numpy as np

from .curves import curve_areas, decode_curves
from .store import Store

_ROWS = (
    "SELECT m.image, t.{column} FROM maps m JOIN {table} t ON t.map = m.id "
    "WHERE m.model = ? AND m.method = ? AND m.steps = ? AND m.idgi = ? AND m.count = ? AND t.{key} = ?"
)


class VariantReader:
    """Reads a study database's variants; `backend` is the piecewise-linear op's for decoding."""

    def __init__(self, store: Store, backend: str = "torch"):
        self.connection, self.backend = store.connection, backend
        rows = self.connection.execute("SELECT id, name FROM names ORDER BY name").fetchall()
        self.ids = {name: key for key, name in rows}
        self.names = [name for _, name in rows]
        self.rank = np.zeros(max((key for key, _ in rows), default=0) + 1, dtype=np.int64)
        self.rank[[key for key, _ in rows]] = np.arange(len(rows))

    def _rows(self, variant: tuple, metric: str, table: str, column: str) -> list:
        model, method, steps, idgi, count = variant
        keys = [self.ids.get(model), self.ids.get(method), self.ids.get(metric)]
        if None in keys:
            return []
        sql = _ROWS.format(column=column, table=table, key="curve" if table == "map_curves" else "metric")
        return self.connection.execute(sql, (keys[0], keys[1], steps, idgi, count, keys[2])).fetchall()

    def scores(self, variant: tuple, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(image ranks, increasing; their values) of `metric`, NULLs left out."""
        rows = [row for row in self._rows(variant, metric, "map_scores", "value") if row[1] is not None]
        images = self.rank[np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))]
        values = np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows))
        order = np.argsort(images)
        return images[order], values[order]

    def _blobs(self, variant: tuple, metric: str, images: np.ndarray) -> list[bytes]:
        """The stored curves of `metric` for `images` (ranks, increasing; each must have one)."""
        found = {
            int(self.rank[key]): blob for key, blob in self._rows(variant, metric, "map_curves", "points")
        }
        try:
            return [found[int(image)] for image in images]
        except KeyError as error:
            raise ValueError(f"{self.names[int(error.args[0])]} has a {metric} score but no curve") from None

    def curves(self, variant: tuple, metric: str, images: np.ndarray) -> np.ndarray:
        """(len(images), points) float64: the curves of `metric` for `images`, in their order."""
        return decode_curves(self._blobs(variant, metric, images), self.backend)

    def areas(self, variant: tuple, metric: str, images: np.ndarray) -> np.ndarray:
        """(len(images),) float64: the trapezoid area of each of those curves."""
        return curve_areas(self._blobs(variant, metric, images))
