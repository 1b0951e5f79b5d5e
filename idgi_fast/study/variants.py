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

_SCORES = (
    "SELECT m.image, t.metric, t.value FROM maps m JOIN map_scores t ON t.map = m.id "
    "WHERE m.model = ? AND m.method = ? AND m.steps = ? AND m.idgi = ? AND m.count = ?"
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

    def scores(self, variant: tuple) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """metric → (image ranks, increasing; their values) of every metric the variant holds, NULLs
        left out (a metric of only NULLs is there, empty): one query for all of them."""
        model, method, steps, idgi, count = variant
        keys = [self.ids.get(model), self.ids.get(method)]
        if None in keys:
            return {}
        rows = self.connection.execute(_SCORES, (keys[0], keys[1], steps, idgi, count)).fetchall()
        table = np.array(rows, dtype=np.float64).reshape(-1, 3)  # a NULL value reads as NaN
        images, metrics, values = (
            self.rank[table[:, 0].astype(np.int64)],
            table[:, 1].astype(np.int64),
            table[:, 2],
        )
        found = {}
        for metric in np.unique(metrics):
            kept = (metrics == metric) & ~np.isnan(values)
            order = np.argsort(images[kept])
            found[self.names[self.rank[metric]]] = (images[kept][order], values[kept][order])
        return found

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
