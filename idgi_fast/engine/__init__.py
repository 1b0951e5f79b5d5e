"""The fast backends' attribution engine: the streaming loop (stream.py), the paths it walks
(paths.py) and batched Guided IG (guided.py)."""

from __future__ import annotations

from .guided import guided_ig_stream, model_outputs
from .paths import BlurPath, StraightPath
from .stream import chunk_outputs, stream_path, stream_path_static


def _stream(path, model, targets, *, counts, idgi, output, batch_size, backend, graphs):
    """A known path through the streaming loop: in fixed-shape chunks replayed as one CUDA graph
    (graphs "capture", where the path's points can be captured), in fixed-shape chunks run
    eagerly ("static", the CPU tests' view of the captured form), or chunk by chunk ("off")."""
    if graphs == "static" or (graphs == "capture" and path.capturable):
        return stream_path_static(
            path, model, targets, output, counts, idgi, batch_size, backend, capture=graphs == "capture"
        )
    evaluate = chunk_outputs(model, targets, output)
    return stream_path(path, evaluate, counts, idgi, batch_size, backend, targets)


# Each implementation takes run's arguments; `stream` holds counts, idgi, output, batch_size,
# backend and graphs, which the paths' methods hand on to the streaming loop unchanged.
def _ig(model, inputs, baselines, targets, *, steps, params, positions, **stream):
    if positions is None:
        path = StraightPath.uniform(inputs, baselines, steps, params["rule"])
    else:
        path = StraightPath.scheduled(inputs, baselines, positions, params["rule"])
    return _stream(path, model, targets, **stream)


def _blur_ig(model, inputs, baselines, targets, *, steps, params, positions, **stream):
    path = BlurPath(inputs, steps, stream["idgi"], backend=stream["backend"], positions=positions, **params)
    return _stream(path, model, targets, **stream)


def _guided_ig(model, inputs, baselines, targets, *, steps, params, positions, counts, **stream):
    # its path depends on the step count: one count only (the registry refuses compute_at)
    return guided_ig_stream(model, inputs, baselines, targets, steps, **stream, **params, positions=positions)


# one implementation per registered method (idgi_fast.methods); tests check that none is missing
IMPLEMENTATIONS = {"ig": _ig, "blur_ig": _blur_ig, "guided_ig": _guided_ig}


def run(model, inputs, baselines, targets, *, spec, steps, params, positions=None, graphs="off", **stream):
    """The fast backends' entry point, for a registered method `spec`; same contract as
    reference.run (positions: a step schedule's, or None). stream: counts, idgi, output,
    batch_size and the resolved op `backend`; graphs: graphs.GRAPH_MODES, resolved by
    graphs.resolve_graphs."""
    implementation = IMPLEMENTATIONS[spec.name]
    return implementation(
        model,
        inputs,
        baselines,
        targets,
        steps=steps,
        params=params,
        positions=positions,
        graphs=graphs,
        **stream,
    )


__all__ = [
    "run",
    "stream_path",
    "stream_path_static",
    "chunk_outputs",
    "StraightPath",
    "BlurPath",
    "guided_ig_stream",
    "model_outputs",
    "IMPLEMENTATIONS",
]
