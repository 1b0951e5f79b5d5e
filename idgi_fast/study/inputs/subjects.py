"""The models a study explains, as its loop (runner.execute) takes them: a `Subject` names a
model in the database, builds it on a device and says what its weights are (the study
identity). A user's own model is wrapped by `StudyModel`: images in [0, 1], the user's
normalisation applied inside, the output reduced to logits (B, classes)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ...models.adapt import StudyModel, normalisation
from ...models.specs import FACTORY_MODULE_PREFIX
from ...validation import check_model, model_module


@dataclass(frozen=True)
class Subject:
    """One model of a study: its `name` in the database, `build(device)` returning the callable
    the study explains, `identity` (what its weights are: a changed one is refused as other
    settings) and the `package` whose version its architecture depends on (recorded per run)."""

    name: str
    build: Callable[[torch.device], Callable]
    identity: str
    package: str | None = None


def parameter_digest(model: Callable) -> str:
    """The identity of a model's weights: its class and a SHA-256 of every parameter and buffer
    (name, dtype, shape, bytes). A plain function has no weights to read: its qualified name. A
    class from a `file.py:factory` spec goes without the module name we imported the file under:
    the spec, the model's name in the study, says where it came from."""
    module = model_module(model)
    if module is None:
        kind = getattr(model, "__qualname__", type(model).__qualname__)
        return f"callable:{getattr(model, '__module__', '?')}.{kind}"
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict(keep_vars=False).items()):
        data = tensor.detach().contiguous().cpu()
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}\n".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    kind = type(module)
    where = "" if kind.__module__.startswith(FACTORY_MODULE_PREFIX) else f"{kind.__module__}."
    return f"{where}{kind.__qualname__}:sha256:{digest.hexdigest()}"


def model_device(model: Callable) -> torch.device | None:
    """Where a model's first parameter or buffer lives; None for a model without any."""
    module = model_module(model)
    if module is None:
        return None
    found = next((t for t in (*module.parameters(), *module.buffers())), None)
    return None if found is None else found.device


def user_subject(name: str, model: Callable, normalize: Sequence | None) -> Subject:
    """A user's model as a study subject. It must be in eval mode (it is never switched); built
    for a device other than its own, it is a copy moved there: the user's model is left as it was."""
    check_model(model, name=f"model {name!r}")
    identity = parameter_digest(model)
    found = normalisation(normalize)
    if found is not None:
        identity += f" normalize(mean={list(found[0])}, std={list(found[1])})"

    def build(target: torch.device) -> StudyModel:
        owner = model_module(model)
        moved = model
        if owner is not None and model_device(model) not in (None, target):
            moved = copy.deepcopy(owner).to(target)
            if owner is not model:  # a bound method: the same method of the copy
                moved = getattr(moved, model.__name__)
        return StudyModel(moved, found).to(target)

    return Subject(name, build, identity)
