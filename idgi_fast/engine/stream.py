"""The streaming loop: path points go through the model chunk by chunk and are folded into
the accumulators at once, so memory does not grow with the number of steps.

Points are visited from the input towards the baseline (path index j = m … 0), all images
of a path index before the next. IDGI's interval j needs g_j and F_{j+s}; in this order
F_{j+s} is always known by the time g_j arrives (from an earlier chunk or the same one), so
no gradient is ever kept past its chunk and no point is evaluated twice. F comes from the
same forward pass as the gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..ops.accumulate import accumulate, idgi_scales, squared_norms
from ..outputs import check_path_finite, output_and_gradient, point_finite
from ..runtime.graphs import CACHE, StaticCall, clear_graphs
from ..utils.profiling import annotate

# F (N,) and ∂F/∂point (like the points) of a chunk of points, each belonging to image `images[p]`
ChunkOutputs = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def chunk_outputs(model, targets: torch.Tensor, output: str) -> ChunkOutputs:
    """The explained output of `model` (docs/semantics.md notation) at each point, for its image's
    target. Every target is checked against the logits once, at the first chunk: one host sync
    per stream, not per chunk."""
    unchecked = [targets]

    def evaluate(points: torch.Tensor, images: torch.Tensor):
        check = unchecked.pop() if unchecked else False
        return output_and_gradient(model, points, targets[images], output, check_targets=check)

    return evaluate


class Accumulators:
    """What a path's chunks fold into: base and IDGI sums (counts, B, …), F of every point
    (B, m + 2) and whether it was finite; column m + 1 takes the padded rows of fixed-shape
    chunks, which are never read."""

    def __init__(self, inputs: torch.Tensor, steps: int, counts: list[int], idgi: bool, backend: str):
        batch, device = inputs.shape[0], inputs.device
        self.steps, self.counts, self.idgi, self.backend = steps, counts, idgi, backend
        self.strides = [steps // n if n else 1 for n in counts]  # a one-point path (steps 0) has one count, 0
        self.stride_tensor = torch.tensor(self.strides, device=device)
        self.table, self.table_path = None, None
        self.base = torch.zeros((len(counts), *inputs.shape), dtype=inputs.dtype, device=device)
        self.important = torch.zeros_like(self.base) if idgi else None
        self.outputs = torch.empty((batch, steps + 2), dtype=inputs.dtype, device=device)
        self.finite = torch.empty((batch, steps + 2), dtype=torch.bool, device=device)
        self.reset()

    def reset(self) -> None:
        self.base.zero_()
        if self.important is not None:
            self.important.zero_()
        self.outputs.fill_(float("nan"))
        self.finite.fill_(True)

    def coefficients(self, path, js: torch.Tensor) -> torch.Tensor:
        """(N, counts) each point's weight in every count's base estimate, in the inputs' dtype:
        rows of a table of every path index, built once per path (not per chunk: the weights
        are elementwise in j, so a row is the same either way)."""
        if self.table_path is not path:
            every_j = torch.arange(path.steps + 1, device=self.base.device)
            weights = [path.base_coefficients(every_j, s) for s in self.strides]
            self.table, self.table_path = torch.stack(weights, dim=1).to(self.base.dtype), path
        return self.table[js]

    def finish(self, path, targets: torch.Tensor | None):
        """The stream's result (stream_path's contract); raises on a NaN or Inf F or gradient."""
        outputs, finite = self.outputs[:, : self.steps + 1], self.finite[:, : self.steps + 1]
        check_path_finite(finite, targets, self.steps)
        base_by_count = {n: path.finish(self.base[c]) for c, n in enumerate(self.counts)}
        idgi_by_count = {n: self.important[c] for c, n in enumerate(self.counts)} if self.idgi else None
        return base_by_count, idgi_by_count, outputs.contiguous(), len(path.needed)


def fold_chunk(
    state: Accumulators,
    values: torch.Tensor,
    gradients: torch.Tensor,
    multiplier: torch.Tensor | None,
    images: torch.Tensor,
    js: torch.Tensor,
    write_js: torch.Tensor,
    base_coef: torch.Tensor,
    valid: torch.Tensor | None,
) -> None:
    """Fold one chunk's F and gradients into `state`, without waiting for the host.

    write_js: the column each row's F goes to (js, or m + 1 for a padded row); base_coef (N,
    counts) is 0 on padded rows and `valid` (N,) marks the real rows (None: all are).
    """
    steps = state.steps
    values = values.detach()
    state.outputs[images, write_js] = values
    state.finite[images, write_js] = point_finite(values, gradients)
    idgi_coef = None
    if state.idgi:
        # (N, counts) at once: every count's interval of each point, one op per step of the formula
        norms = squared_norms(gradients, state.backend).to(torch.float64)[:, None]
        strides = state.stride_tensor
        interval = (js[:, None] % strides == 0) & (js[:, None] < steps)
        if valid is not None:
            interval &= valid[:, None]
        later = state.outputs[images[:, None], (js[:, None] + strides).clamp(max=steps)].to(torch.float64)
        change = later - values.to(torch.float64)[:, None]
        idgi_coef = torch.where(interval, idgi_scales(change, norms), 0.0).to(state.base.dtype)
    accumulate(
        gradients, multiplier, base_coef, idgi_coef, images, state.base, state.important, state.backend
    )


def path_rows(path) -> tuple[torch.Tensor, torch.Tensor]:
    """(path index j, image) of every point the path needs, in the streaming order: j = m … 0,
    all images of a path index before the next."""
    batch, device = path.inputs.shape[0], path.inputs.device
    js = torch.tensor(sorted(path.needed, reverse=True), device=device).repeat_interleave(batch)
    return js, torch.arange(batch, device=device).repeat(len(path.needed))


def stream_path(
    path,
    evaluate: ChunkOutputs,
    counts: list[int],
    idgi: bool,
    batch_size: int,
    backend: str,
    targets: torch.Tensor | None = None,
):
    """(base by count, IDGI by count or None, outputs (B, m + 1), points per image) of a known path.

    `batch_size` path points go through `evaluate` at a time; `backend` is a resolved op backend.
    A NaN or Inf F or gradient stops it with the path point and image (outputs.NonFiniteOutput),
    checked once at the end so that no chunk waits for the host; `targets` (B,) name the
    explained classes in that message (None: not named).
    """
    js, images = path_rows(path)
    state = Accumulators(path.inputs, path.steps, counts, idgi, backend)
    batch = path.inputs.shape[0]

    chunk = batch_size
    start = 0
    while start < len(js):
        rows = slice(start, min(start + chunk, len(js)))
        chunk_images, chunk_js = images[rows], js[rows]
        whole_steps = rows.start % batch == 0 and (rows.stop - rows.start) % batch == 0  # path_rows' order
        try:
            with annotate("path points"):
                points, multiplier = path.points(chunk_images, chunk_js, whole_steps)
            with annotate("forward+backward"):
                values, gradients = evaluate(points, chunk_images)
        except torch.cuda.OutOfMemoryError:
            if chunk == 1:
                raise
            points = multiplier = None
            torch.cuda.empty_cache()
            chunk //= 2  # nothing of this chunk was accumulated yet: retry it at half the size
            continue
        with annotate("accumulate"):
            coefficients = state.coefficients(path, chunk_js)
            fold_chunk(
                state, values, gradients, multiplier, chunk_images, chunk_js, chunk_js, coefficients, None
            )
        start = rows.stop

    return state.finish(path, targets)


class StaticStream:
    """The cached state of one fixed-shape stream: the first call's path (whose tensors later
    calls copy theirs into), the targets, the accumulators, one chunk's row buffers and the
    StaticCall that evaluates and folds a chunk."""

    def __init__(self, path, model, targets, output, counts, idgi, batch_size, backend, capture):
        inputs = path.inputs
        path.own()
        self.path, self.chunk = path, batch_size
        self.targets = targets.clone()
        self.state = Accumulators(inputs, path.steps, counts, idgi, backend)
        device = inputs.device
        self.images = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.js = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.write_js = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.valid = torch.zeros(batch_size, dtype=torch.bool, device=device)
        self.coefficients = torch.zeros((batch_size, len(counts)), dtype=inputs.dtype, device=device)

        def body():
            points, multiplier = self.path.static_points(self.images, self.js)
            values, gradients = output_and_gradient(
                model, points, self.targets[self.images], output, check_targets=False
            )
            fold_chunk(
                self.state,
                values,
                gradients,
                multiplier,
                self.images,
                self.js,
                self.write_js,
                self.coefficients,
                self.valid,
            )

        self.call = StaticCall(body, capture, "a chunk of path points (forward, backward, accumulate)")

    def run(self, path, targets):
        self.path.load(path)
        self.targets.copy_(targets)
        self.state.reset()
        steps, device = path.steps, path.inputs.device
        js, images = path_rows(path)
        rows = len(js)
        padded = -(-rows // self.chunk) * self.chunk
        # padded rows repeat the last real point with no weight and write F to the unread column m + 1
        js = torch.cat([js, js[-1:].expand(padded - rows)])
        images = torch.cat([images, images[-1:].expand(padded - rows)])
        valid = torch.arange(padded, device=device) < rows
        write_js = torch.where(valid, js, steps + 1)
        coefficients = self.state.coefficients(path, js) * valid[:, None]
        for start in range(0, padded, self.chunk):
            part = slice(start, start + self.chunk)
            self.images.copy_(images[part])
            self.js.copy_(js[part])
            self.write_js.copy_(write_js[part])
            self.valid.copy_(valid[part])
            self.coefficients.copy_(coefficients[part])
            with annotate("chunk (static)"):
                self.call(reset=self.state.reset)
        base, important, outputs, evaluations = self.state.finish(path, targets)
        # the accumulators are reused by the next call: hand out copies
        base = {n: b.clone() for n, b in base.items()}
        important = {n: i.clone() for n, i in important.items()} if important is not None else None
        return base, important, outputs.clone(), evaluations


def stream_path_static(path, model, targets, output, counts, idgi, batch_size, backend, capture: bool):
    """stream_path's result with every chunk of one shape, `batch_size` points, the last padded
    with weightless repeats of a real point, so that one CUDA graph (when `capture`) replays
    every chunk; the graph and its buffers are cached for later calls of the same shapes.
    Falls back to stream_path when the padded chunk does not fit in memory."""
    inputs = path.inputs
    settings = (
        type(path).__name__,
        path.static_key(),
        batch_size,
        tuple(counts),
        idgi,
        output,
        backend,
        capture,
    )
    try:
        stream = CACHE.get(
            "stream",
            model,
            inputs,
            settings,
            lambda: StaticStream(path, model, targets, output, counts, idgi, batch_size, backend, capture),
        )
        return stream.run(path, targets)
    except torch.cuda.OutOfMemoryError:
        clear_graphs()  # every capture's pool: the eager stream below halves its chunk as it needs

        return stream_path(
            path, chunk_outputs(model, targets, output), counts, idgi, batch_size, backend, targets
        )
