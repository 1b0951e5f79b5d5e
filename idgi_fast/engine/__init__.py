"""The fast backends' attribution engine: the streaming loop (stream.py), the paths it walks
(paths.py) and batched Guided IG (guided.py)."""

from __future__ import annotations

from .guided import evaluate_points, guided_ig_stream
from .paths import BlurPath, StraightPath
from .stream import model_evaluator, stream_path, stream_path_static


def _stream(path, model, targets, output, counts, idgi, batch_size, backend, graphs):
    """A known path through the streaming loop: in fixed-shape chunks replayed as one CUDA graph
    (graphs "capture", where the path's points can be captured), in fixed-shape chunks run
    eagerly ("static", the CPU tests' view of the captured form), or chunk by chunk ("off")."""
    if graphs == "static" or (graphs == "capture" and path.capturable):
        return stream_path_static(
            path, model, targets, output, counts, idgi, batch_size, backend, capture=graphs == "capture"
        )
    evaluate = model_evaluator(model, targets, output)
    return stream_path(path, evaluate, counts, idgi, batch_size, backend, targets)


def _ig(
    model,
    inputs,
    baselines,
    targets,
    *,
    steps,
    counts,
    idgi,
    output,
    batch_size,
    params,
    backend,
    positions,
    graphs,
):
    if positions is None:
        path = StraightPath.uniform(inputs, baselines, steps, params["rule"])
    else:
        path = StraightPath.scheduled(inputs, baselines, positions, params["rule"])
    return _stream(path, model, targets, output, counts, idgi, batch_size, backend, graphs)


def _blur_ig(
    model,
    inputs,
    baselines,
    targets,
    *,
    steps,
    counts,
    idgi,
    output,
    batch_size,
    params,
    backend,
    positions,
    graphs,
):
    path = BlurPath(inputs, steps, idgi, backend=backend, positions=positions, **params)
    return _stream(path, model, targets, output, counts, idgi, batch_size, backend, graphs)


def _guided_ig(
    model,
    inputs,
    baselines,
    targets,
    *,
    steps,
    counts,
    idgi,
    output,
    batch_size,
    params,
    backend,
    positions,
    graphs,
):
    return guided_ig_stream(
        model,
        inputs,
        baselines,
        targets,
        steps,
        idgi,
        output,
        batch_size,
        backend,
        **params,
        positions=positions,
        graphs=graphs,
    )


# one implementation per registered method (idgi_fast.methods); tests check that none is missing
IMPLEMENTATIONS = {"ig": _ig, "blur_ig": _blur_ig, "guided_ig": _guided_ig}


def run(
    model,
    inputs,
    baselines,
    targets,
    *,
    spec,
    steps,
    counts,
    idgi,
    output,
    batch_size,
    params,
    backend,
    positions=None,
    graphs="off",
):
    """The fast backends' entry point, for a registered method `spec` and a resolved op
    `backend`; same contract as reference.run (positions: a step schedule's, or None;
    graphs: graphs.GRAPH_MODES, resolved by graphs.resolve_graphs)."""
    return IMPLEMENTATIONS[spec.name](
        model,
        inputs,
        baselines,
        targets,
        steps=steps,
        counts=counts,
        idgi=idgi,
        output=output,
        batch_size=batch_size,
        params=params,
        backend=backend,
        positions=positions,
        graphs=graphs,
    )


__all__ = [
    "run",
    "stream_path",
    "stream_path_static",
    "model_evaluator",
    "StraightPath",
    "BlurPath",
    "guided_ig_stream",
    "evaluate_points",
    "IMPLEMENTATIONS",
]
