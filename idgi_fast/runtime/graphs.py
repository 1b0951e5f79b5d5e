"""Fixed-shape work captured once as a CUDA graph and replayed (docs/backends.md §13).

A `StaticCall` wraps a body that reads and writes only tensors that outlive it (static
buffers the caller refills before each call). On CUDA the first call warms the body up on a
side stream, checks that it never waits for the host (`torch.cuda.set_sync_debug_mode`),
captures it, and every later call replays the graph: one launch for a whole chunk of path
points. Where capture is impossible (a model that syncs with the host, an op without a
capturable form) the body runs eagerly from then on, after one warning saying why. Off CUDA a
StaticCall always runs its body eagerly: the same buffers and the same padded shapes, which is
how the CPU tests check the fixed-shape logic the graphs replay.

Captured state lives in a small per-process cache (`GraphCache`), keyed by everything the
graph depends on, the model's parameters included, so repeated calls on same-shaped batches (a
study's loop) capture once. `clear_graphs()` frees it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import torch

from ..utils.messages import warn_once

GRAPH_MODES = ("off", "capture", "static")  # what the engine receives: see resolve_graphs


def resolve_graphs(graphs: object, device: torch.device, backend: str) -> str:
    """A user's `graphs` choice for data on `device` under a resolved `backend`: "capture" (CUDA
    graphs), or "off". None (the default) captures on CUDA with the fast backends; True asks
    for it (an error off CUDA or with the reference backend); False turns it off."""
    if graphs is not None and not isinstance(graphs, bool):
        raise TypeError(f"graphs must be True, False or None (automatic), got {type(graphs).__name__}")
    if graphs is None:
        return "capture" if device.type == "cuda" and backend != "reference" else "off"
    if not graphs:
        return "off"
    if device.type != "cuda":
        raise ValueError(
            f"graphs=True captures CUDA graphs and needs CUDA tensors; these are on {device}. Leave graphs "
            "at None (automatic) or pass graphs=False"
        )
    if backend == "reference":
        raise ValueError(
            "graphs=True applies to the fast backends; the reference backend is the plain oracle and runs "
            "eagerly. Use backend='auto' or graphs=None"
        )
    return "capture"


class StaticCall:
    """body() on static buffers; captured as a CUDA graph at the first call when `capture`.

    `reset()` is called after warm-up and capture (whose warm-up runs did real work on the
    buffers) so that the first real call starts from the state the caller set up; the caller
    sets that state again before every call anyway. `what` names the work in the fallback
    warning.
    """

    def __init__(self, body: Callable[[], Any], capture: bool, what: str, warmup: int = 2):
        self.body, self.what, self.warmup = body, what, warmup
        self.capture = capture
        self.graph: torch.cuda.CUDAGraph | None = None
        self.outputs: Any = None

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def __call__(self, reset: Callable[[], None] | None = None):
        if self.capture and self.graph is None:
            self.capture = False  # one attempt: a failure falls back for good
            self._capture()
            if reset is not None:
                reset()
            if self.graph is None:
                return self.body()
        if self.graph is not None:
            self.graph.replay()
            return self.outputs
        return self.body()

    def _capture(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup - 1):
                self.body()  # an error here is the caller's (a model that fails) and propagates
        try:
            with torch.cuda.stream(side):
                previous = torch.cuda.get_sync_debug_mode()
                torch.cuda.set_sync_debug_mode("error")  # a host sync cannot be captured: find it first
                try:
                    self.body()
                finally:
                    torch.cuda.set_sync_debug_mode(previous)
            torch.cuda.current_stream().wait_stream(side)
            self.graph, self.outputs = self._record()
        except Exception as error:  # any failure to capture falls back to the eager body
            torch.cuda.synchronize()
            self.graph = self.outputs = None
            if isinstance(error, torch.cuda.OutOfMemoryError):
                clear_graphs()  # other captures' pools hold memory the eager work needs
            text = str(error).strip()
            reason = text.splitlines()[0] if text else type(error).__name__
            warn_once(
                f"idgi_fast: {self.what} could not be captured as a CUDA graph ({reason}); running it "
                "without graphs. A model that reads values back to the host (.item(), data-dependent shapes) "
                "cannot be captured; pass graphs=False to skip the attempt."
            )
        torch.cuda.current_stream().wait_stream(side)

    def _record(self):
        """The capture itself: the graph and the body's outputs, which every replay rewrites."""
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            outputs = self.body()
        return graph, outputs


def model_owner(model) -> tuple[object, tuple]:
    """The object a cached graph of `model` lives with (the nn.Module behind a module, a bound
    method or a precision wrapper; else the callable) and what the call does beyond it (which
    method, which autocast), so that `model.forward`, a new bound-method object on every
    access, still finds its graph."""
    if isinstance(model, torch.nn.Module):
        return model, ("module",)
    wrapped = getattr(model, "wrapped", None)
    if wrapped is not None:
        owner, how = model_owner(wrapped)
        return owner, (*how, getattr(model, "tag", type(model).__name__))
    owner = getattr(model, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        return owner, ("method", model.__func__)
    return model, ("callable",)


def model_fingerprint(model) -> tuple:
    """What a captured graph of `model` depends on besides its input buffers: its owner object,
    the call, its modules' modes and where each parameter and buffer lives (a replaced or
    re-allocated tensor changes it; an in-place weight update need not, the graph reads the
    same memory)."""
    owner, how = model_owner(model)
    if not isinstance(owner, torch.nn.Module):
        return (id(owner), how)
    tensors = tuple((t.data_ptr(), tuple(t.shape), t.dtype) for t in (*owner.parameters(), *owner.buffers()))
    modes = tuple(m.training for m in owner.modules())
    return (id(owner), how, modes, tensors)


class GraphCache:
    """Least recently used states of captured work, at most `size`; each entry keeps its model's
    owner alive so that an id in a key is never reused by another model while cached."""

    def __init__(self, size: int = 4):
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()

    def get(self, kind: str, model, like: torch.Tensor, settings: tuple, build: Callable[[], Any]):
        """The cached state of `kind` work of `model` on tensors shaped like `like` (its shape,
        dtype and device) under `settings` (everything else the capture depends on), built by
        `build` when absent."""
        key = (kind, model_fingerprint(model), tuple(like.shape), like.dtype, str(like.device), settings)
        owner, _ = model_owner(model)
        found = self.entries.get(key)
        if found is not None and found[0] is owner:
            self.entries.move_to_end(key)
            return found[1]
        state = build()
        self.entries[key] = (owner, state)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return state

    def clear(self) -> None:
        self.entries.clear()


CACHE = GraphCache()


def clear_graphs() -> None:
    """Free every captured graph and its buffers (they hold one chunk's activations each)."""
    CACHE.clear()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
