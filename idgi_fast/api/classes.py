"""Captum-shaped classes over `explain`: one per method, `attribute` returns one tensor."""

from __future__ import annotations

import torch

from .. import validation
from ..methods import METHODS
from ..runtime.precision import check_precision
from .explain import explain


def _parameters_doc(method: str) -> str:
    """The method's parameters as the registry defines them, for the class docstrings."""
    return "\n".join(f"    {p.name}={p.default!r}: {p.doc}" for p in METHODS[method].parameters)


class _PathAttribution:
    """Captum-shaped access to `explain`: `attribute` returns one attribution tensor.

    Method parameters go as keywords to `attribute`; their defaults and checks are the
    registry's (idgi_fast.methods), listed below. output, backend, graphs and precision are
    explain's.
    """

    method = ""

    def __init__(
        self,
        model,
        *,
        output: str = "probability",
        backend: str = "auto",
        graphs: bool | None = None,
        precision: str = "fp32",
    ):
        validation.check_model(model)
        self.model = model
        self.output = output
        self.backend = backend
        self.graphs = graphs
        self.precision = check_precision(precision)

    def attribute(
        self,
        inputs,
        baselines=None,
        target=None,
        steps: int = 128,
        idgi: bool = False,
        batch_size: int | None = None,
        **params,
    ) -> torch.Tensor:
        """The base attribution, or the IDGI one when `idgi`, shaped like the inputs; `params` are
        the method's parameters, listed in the class docstring."""
        result = explain(
            self.model,
            inputs,
            target=target,
            method=self.method,
            steps=steps,
            idgi=idgi,
            baselines=baselines,
            output=self.output,
            batch_size=batch_size,
            backend=self.backend,
            graphs=self.graphs,
            precision=self.precision,
            **params,
        )
        return result.attribution(idgi=idgi)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.__doc__ = f"{cls.__doc__}\n\n    Parameters ({cls.method}):\n{_parameters_doc(cls.method)}\n"


class IG(_PathAttribution):
    """Integrated Gradients, optionally its IDGI variant (docs/semantics.md §3)."""

    method = "ig"


class BlurIG(_PathAttribution):
    """Blur IG (its baseline is the input blurred at max_sigma), optionally its IDGI variant (§4)."""

    method = "blur_ig"

    def attribute(
        self,
        inputs,
        target=None,
        steps: int = 128,
        idgi: bool = False,
        batch_size: int | None = None,
        **params,
    ) -> torch.Tensor:
        """Blur IG has no baselines argument; otherwise as the other classes."""
        return super().attribute(inputs, None, target, steps, idgi, batch_size, **params)


class GuidedIG(_PathAttribution):
    """Guided IG (max_dist=1 is unbounded, 0 is IG's left rule), optionally its IDGI variant (§5)."""

    method = "guided_ig"
