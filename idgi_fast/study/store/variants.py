"""Bulk reads of one variant's results — (model, method, steps, idgi, count) and a metric — as
arrays, for the report: images as their rank in name order (so sets of images intersect as sorted
integer arrays, and a variant's images come in the order the report and the claims have always
used), values as float64, curves decoded together (curves.decode_curves)."""

from __future__ import annotations

import numpy as np

from .curves import decode_curves
from .database import Store

_ROWS = (
    "SELECT m.image, t.{column} FROM maps m JOIN {table} t ON t.map = m.id "
    "WHERE m.model = ? AND m.method = ? AND m.steps = ? AND m.idgi = ? AND m.count = ? AND t.{key} = ?"
)

_RUN_MAPS = "SELECT id, idgi, count, image FROM maps WHERE model = ? AND method = ? AND steps = ?"
_RANGE = "SELECT map, metric, value FROM map_scores WHERE map BETWEEN ? AND ?"
_RUN_SCORES = (
    "SELECT t.map, t.metric, t.value FROM maps m JOIN map_scores t ON t.map = m.id "
    "WHERE m.model = ? AND m.method = ? AND m.steps = ?"
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

    def run_scores(self, model: str, method: str, steps: int) -> dict[tuple, dict]:
        """(idgi, count) → metric → (image ranks, increasing; their values) of every variant one
        run (model, method, steps) wrote, NULLs left out (a metric of only NULLs is there, empty).
        The run's scores are read in one scan of their map ids' range when its maps are about
        contiguous (as a run writes them), else through the maps index."""
        keys = [self.ids.get(model), self.ids.get(method)]
        if None in keys:
            return {}
        maps = np.array(self.connection.execute(_RUN_MAPS, (*keys, steps)).fetchall(), dtype=np.int64)
        if not maps.size:
            return {}
        low, high = int(maps[:, 0].min()), int(maps[:, 0].max())
        if high - low + 1 <= 2 * len(maps):
            rows = self.connection.execute(_RANGE, (low, high)).fetchall()
        else:
            rows = self.connection.execute(_RUN_SCORES, (*keys, steps)).fetchall()
        table = np.array(rows, dtype=np.float64).reshape(-1, 3)  # a NULL value reads as NaN
        where = np.full(high - low + 1, -1, dtype=np.int64)
        where[maps[:, 0] - low] = np.arange(len(maps))
        row_map = where[table[:, 0].astype(np.int64) - low]
        table, row_map = table[row_map >= 0], row_map[row_map >= 0]  # another run's maps in the range
        # the scores as a (metric, map) grid, NaN where NULL or absent; `held` tells those apart
        metric_ids, metric_of = np.unique(table[:, 1].astype(np.int64), return_inverse=True)
        grid = np.full((len(metric_ids), len(maps)), np.nan)
        held = np.zeros(grid.shape, dtype=bool)
        grid[metric_of, row_map], held[metric_of, row_map] = table[:, 2], True
        ranks = self.rank[maps[:, 3]]
        found: dict[tuple, dict] = {}
        for idgi, count in {(int(a), int(b)) for a, b in maps[:, 1:3]}:
            mine = np.flatnonzero((maps[:, 1] == idgi) & (maps[:, 2] == count))
            mine = mine[np.argsort(ranks[mine])]
            for row, metric in enumerate(metric_ids):
                if held[row, mine].any():
                    values = grid[row, mine]
                    kept = ~np.isnan(values)
                    found.setdefault((idgi, count), {})[self.names[self.rank[metric]]] = (
                        ranks[mine][kept],
                        values[kept],
                    )
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

    def every_curve(self, variant: tuple, metric: str) -> np.ndarray:
        """(n, points) float64: every stored curve of `metric` for the variant, images in name order."""
        rows = sorted(self._rows(variant, metric, "map_curves", "points"), key=lambda row: self.rank[row[0]])
        return decode_curves([blob for _, blob in rows], self.backend)
