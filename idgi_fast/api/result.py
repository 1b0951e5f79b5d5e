"""What `explain` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class ExplainResult:
    """What `explain` returns.

    base, idgi: attributions shaped like the inputs; with `compute_at`, dicts keyed by step
    count (the run's own `steps` included). `idgi` is None when IDGI was not asked for.
    outputs: (B, steps + 1) explained outputs F at p_0 (baseline) … p_m (input); NaN at a
    point the method did not need to evaluate (the baseline of Blur IG and the input of
    Guided IG without IDGI).
    targets: (B,) classes explained. evaluations: path points sent through the model per image.
    With a noise tunnel or several baselines (docs/extensions.md §9) base and idgi hold the
    reduction over the samples (noisy copies, or baselines), outputs the samples' mean F,
    `noise` the tunnel's settings,
    sample_outputs (B, samples, steps + 1) each sample's F and sample_sums {(idgi, count):
    (B, samples) float64} each sample's Σ attribution.
    """

    method: str
    steps: int
    base: torch.Tensor | dict[int, torch.Tensor]
    idgi: torch.Tensor | dict[int, torch.Tensor] | None
    outputs: torch.Tensor
    targets: torch.Tensor
    evaluations: int
    output: str
    params: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] | None = None
    sample_outputs: torch.Tensor | None = None
    sample_sums: dict[tuple[bool, int], torch.Tensor] | None = None
    positions: torch.Tensor | None = None  # a non-uniform schedule's α_0 … α_m; None: k/m
    precision: str = "fp32"  # how the model was evaluated (explain's precision)
    backend: str = ""  # what ran: "reference", or the ops' "torch", "native" or "triton" (auto resolved)

    def attribution(self, idgi: bool = False, steps: int | None = None) -> torch.Tensor:
        """One attribution tensor: the base or IDGI map, at `steps` when compute_at was used."""
        chosen = self.idgi if idgi else self.base
        if chosen is None:
            raise ValueError("this result has no IDGI attribution; call explain(..., idgi=True)")
        if isinstance(chosen, dict):
            key = self.steps if steps is None else steps
            if key not in chosen:
                raise ValueError(f"no result for steps={key}; this result holds step counts {sorted(chosen)}")
            return chosen[key]
        if steps not in (None, self.steps):
            raise ValueError(f"this result holds steps={self.steps} only; use compute_at to get other counts")
        return chosen

    def output_change(self) -> torch.Tensor:
        """(B,) float64 F(input) − F(baseline) from the path's own endpoints (NaN where an
        endpoint was not evaluated: Blur IG's baseline and Guided IG's input without IDGI)."""
        return (self.outputs[:, -1] - self.outputs[:, 0]).to(torch.float64)

    def completeness_gap(self, idgi: bool = False, steps: int | None = None) -> torch.Tensor:
        """(B,) float64 |Σ attribution − (F(input) − F(baseline))| of one attribution
        (docs/semantics.md §2: IDGI's is float rounding; the base methods' is their
        discretisation error). With a noise tunnel only SmoothGrad, a mean, keeps a sum to
        compare (with the samples' mean F); see sample_completeness_gap for every tunnel."""
        if self.noise is not None and self.noise["type"] != "smoothgrad":
            raise ValueError(
                f"a {self.noise['type']} map has no completeness property; use sample_completeness_gap"
            )
        total = self.attribution(idgi=idgi, steps=steps).to(torch.float64).flatten(1).sum(dim=1)
        return (total - self.output_change()).abs()

    def sample_completeness_gap(self, idgi: bool = False, steps: int | None = None) -> torch.Tensor:
        """(B, samples) float64 |Σ a_s − (F(end_s) − F(start_s))| of every sample: each noisy copy
        of a noise tunnel, or each baseline of several (§9); IDGI's is float rounding."""
        if self.sample_sums is None:
            raise ValueError(
                "this result has no samples; call explain(..., noise=...) or with a list of baselines"
            )
        if idgi and self.idgi is None:
            raise ValueError("this result has no IDGI attribution; call explain(..., idgi=True)")
        key = (idgi, self.steps if steps is None else steps)
        if key not in self.sample_sums:
            raise ValueError(
                f"no result for steps={key[1]}; this result holds step counts {sorted(self.base)}"
            )
        change = (self.sample_outputs[..., -1] - self.sample_outputs[..., 0]).to(torch.float64)
        return (self.sample_sums[key] - change).abs()
