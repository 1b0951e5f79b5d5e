"""The fast backends' attribution engine: the streaming loop (stream.py), the paths it walks
(paths.py) and batched Guided IG (guided.py)."""

from __future__ import annotations

from .guided import evaluate_points, guided_ig_stream
from .paths import BlurPath, StraightPath
from .stream import model_evaluator, stream_path


def _ig(
    model, inputs, baselines, targets, *, steps, counts, idgi, output, batch_size, params, backend, positions
):
    if positions is None:
        path = StraightPath.uniform(inputs, baselines, steps, params["rule"])
    else:
        path = StraightPath.scheduled(inputs, baselines, positions, params["rule"])
    evaluate = model_evaluator(model, targets, output)
    return stream_path(path, evaluate, counts, idgi, batch_size, backend, targets)


def _blur_ig(
    model, inputs, baselines, targets, *, steps, counts, idgi, output, batch_size, params, backend, positions
):
    path = BlurPath(inputs, steps, idgi, backend=backend, positions=positions, **params)
    evaluate = model_evaluator(model, targets, output)
    return stream_path(path, evaluate, counts, idgi, batch_size, backend, targets)


def _guided_ig(
    model, inputs, baselines, targets, *, steps, counts, idgi, output, batch_size, params, backend, positions
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
):
    """The fast backends' entry point, for a registered method `spec` and a resolved op
    `backend`; same contract as reference.run (positions: a step schedule's, or None)."""
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
    )


__all__ = [
    "run",
    "stream_path",
    "model_evaluator",
    "StraightPath",
    "BlurPath",
    "guided_ig_stream",
    "evaluate_points",
    "IMPLEMENTATIONS",
]
