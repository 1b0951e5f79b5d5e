"""Model evaluations of the reference: one path point per image per call, chunked over images.

`batch_size` bounds how many points go through the model at once; since each point is
evaluated exactly once, chunking changes no result.
"""

from __future__ import annotations

import torch

from ..outputs import check_path_finite, output_and_gradient, output_only, point_finite
from ..validation import default_batch_size


class ReferenceOutputs:
    def __init__(self, model, targets: torch.Tensor, output: str, batch_size: int | None, steps: int):
        self.model = model
        self.steps = steps
        self.targets = targets
        self.output = output
        self.batch_size = batch_size
        self.points_per_image = 0  # path points evaluated for each image so far

    def _chunks(self, points: torch.Tensor):
        n = points.shape[0]
        size = self.batch_size or default_batch_size(points.device, points[0].numel() if n else None)
        for start in range(0, n, size):
            yield slice(start, min(start + size, n))

    def gradient(self, points: torch.Tensor, index: int, rows: torch.Tensor | None = None):
        """F (N,) and g (like points) at path point `index` (its column of the outputs) of each
        image; `rows` picks the images' targets. A NaN or Inf F or g stops here."""
        targets = self.targets if rows is None else self.targets[rows]
        values, grads = [], []
        for part in self._chunks(points):
            f, g = output_and_gradient(self.model, points[part], targets[part], self.output)
            values.append(f)
            grads.append(g)
        self.points_per_image += 1
        values, grads = torch.cat(values), torch.cat(grads)
        self._check_finite(point_finite(values, grads), index, targets)
        return values, grads

    def _check_finite(self, finite: torch.Tensor, index: int, targets: torch.Tensor) -> None:
        column = torch.ones((finite.shape[0], self.steps + 1), dtype=torch.bool, device=finite.device)
        column[:, index] = finite
        check_path_finite(column, targets, self.steps)

    def forward(self, points: torch.Tensor, index: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        targets = self.targets if rows is None else self.targets[rows]
        values = [
            output_only(self.model, points[part], targets[part], self.output) for part in self._chunks(points)
        ]
        self.points_per_image += 1
        values = torch.cat(values)
        self._check_finite(point_finite(values), index, targets)
        return values
