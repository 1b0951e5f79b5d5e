"""Paths whose points are known up front (IG, Blur IG, the Captum drop-in's rules), in the
form the streaming loop uses.

A path has points p_0 … p_m (baseline → input). Each class says which points it needs,
builds any chunk of them on the device, and gives the weight with which each point's
gradient enters the base estimate for a step count n (stride s = m/n).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..geometry import blur_sigmas, straight_positions
from ..ops.blur_path import blur_path, blur_path_triton_taps, blur_taps


def ig_rule_weights(positions: torch.Tensor, n: int, rule: str) -> torch.Tensor:
    """Weight of g at sub-path position k' = 0 … n under an IG rule (times (x − x') later), float64."""
    full = torch.full(positions.shape, 1.0 / n, dtype=torch.float64, device=positions.device)
    if rule == "pair":
        return torch.full_like(full, 1.0 / (n + 1))
    if rule == "left":
        return torch.where(positions < n, full, 0.0)
    if rule == "right":
        return torch.where(positions > 0, full, 0.0)
    if rule == "trapezoid":
        return torch.where((positions == 0) | (positions == n), full / 2, full)
    raise ValueError(f"unknown IG rule {rule!r}")


class StraightPath:
    """p_j = x' + α_j (x − x'); base = (x − x') ⊙ Σ_j w_j g_j (docs/semantics.md §3).

    `alphas` (float64, m + 1 positions, baseline → input) and `weights(js, stride)` (each
    point's weight in the estimate of the count m/stride) define the rule: IG's uniform
    positions and rules (`uniform`), or any other quadrature on the line (the Captum drop-in's
    Riemann and Gauss-Legendre rules). `multiply` = False leaves out the final (x − x')
    factor.
    """

    has_multiplier = False

    def __init__(
        self,
        inputs: torch.Tensor,
        baselines: torch.Tensor,
        alphas: torch.Tensor,
        weights: Callable[[torch.Tensor, int], torch.Tensor],
        multiply: bool = True,
    ):
        self.inputs, self.baselines, self.multiply = inputs, baselines, multiply
        self.steps = len(alphas) - 1
        self.alphas = alphas.to(device=inputs.device, dtype=inputs.dtype)
        self.weights = weights
        self.difference = inputs - baselines
        self.needed = list(
            range(self.steps + 1)
        )  # every rule's estimate over every count needs all m + 1 points

    @classmethod
    def uniform(cls, inputs: torch.Tensor, baselines: torch.Tensor, steps: int, rule: str) -> StraightPath:
        """IG: α_k = k/m, each count's estimate by `rule` over its sub-path."""

        def weights(js: torch.Tensor, stride: int) -> torch.Tensor:
            on_subpath = js % stride == 0
            return torch.where(on_subpath, ig_rule_weights(js // stride, steps // stride, rule), 0.0)

        return cls(inputs, baselines, straight_positions(steps), weights)

    @classmethod
    def scheduled(
        cls, inputs: torch.Tensor, baselines: torch.Tensor, positions: torch.Tensor, rule: str
    ) -> StraightPath:
        """IG over a step schedule α_0 … α_m (§3): one count, each point's weight from its
        neighbouring widths Δ_k = α_(k+1) − α_k by `rule` (left Δ_k, right Δ_(k−1), trapezoid
        their mean; 0 past either end)."""
        widths = positions[1:] - positions[:-1]
        zero = torch.zeros(1, dtype=torch.float64)
        before, after = torch.cat([zero, widths]), torch.cat([widths, zero])
        if rule == "left":
            table = after
        elif rule == "right":
            table = before
        elif rule == "trapezoid":
            table = (before + after) / 2
        else:
            raise ValueError(f"the {rule!r} rule has no schedule form")

        def weights(js: torch.Tensor, stride: int) -> torch.Tensor:
            return table.to(js.device)[js]

        return cls(inputs, baselines, positions, weights)

    def points(self, images: torch.Tensor, js: torch.Tensor, whole_steps: bool | None = None):
        """The chunk's points; whole_steps: whether images is 0 … B − 1 repeated (the caller's
        knowledge, None: found out here, a host sync)."""
        alpha = self.alphas[js]
        batch = self.inputs.shape[0]
        if whole_steps is None:
            whole_steps = len(js) % batch == 0 and bool(
                (images == torch.arange(len(js), device=images.device) % batch).all()
            )
        if whole_steps:
            # whole steps of the step-major order: broadcast instead of gathering every image again
            alpha = alpha.view(-1, batch, *(1,) * (self.inputs.ndim - 1))
            return (self.baselines[None] + alpha * self.difference[None]).flatten(0, 1), None
        shape = (-1,) + (1,) * (self.inputs.ndim - 1)
        return self.baselines[images] + alpha.view(shape) * self.difference[images], None

    def base_coefficients(self, js: torch.Tensor, stride: int) -> torch.Tensor:
        return self.weights(js, stride)

    # the fixed-shape form (engine/stream.py's stream_path_static): points read only the tensors
    # of static_tensors, which a cached path takes over from a later call's with load
    capturable = True

    def static_key(self) -> tuple:
        return (self.steps, self.multiply)

    def static_tensors(self) -> list[torch.Tensor]:
        return [self.baselines, self.difference, self.alphas]

    def static_points(self, images: torch.Tensor, js: torch.Tensor):
        shape = (-1,) + (1,) * (self.inputs.ndim - 1)
        return self.baselines[images] + self.alphas[js].view(shape) * self.difference[images], None

    def own(self) -> None:
        """Clone the static tensors, so that later loads never write into a caller's tensors."""
        self.baselines, self.difference, self.alphas = (t.clone() for t in self.static_tensors())

    def load(self, other: StraightPath) -> None:
        for mine, theirs in zip(self.static_tensors(), other.static_tensors()):
            mine.copy_(theirs)

    def finish(self, accumulated: torch.Tensor) -> torch.Tensor:
        return self.difference * accumulated if self.multiply else accumulated


class BlurPath:
    """Blur IG: p_j = G_{σ_(m−j)}(x); base = −Σ_i (σ_{i+s} − σ_i) dX_i ⊙ g(G_σi(x)) (docs/semantics.md §4)."""

    has_multiplier = True

    def __init__(
        self,
        inputs: torch.Tensor,
        steps: int,
        idgi: bool,
        max_sigma: float,
        grad_step: float,
        sqrt: bool,
        padding: str,
        backend: str = "torch",
        positions: torch.Tensor | None = None,
    ):
        self.inputs, self.steps, self.grad_step, self.padding, self.backend = (
            inputs,
            steps,
            grad_step,
            padding,
            backend,
        )
        self.sigmas = torch.tensor(blur_sigmas(steps, max_sigma, sqrt, positions), dtype=torch.float64)
        # the baseline G_max(x) (j = 0) is evaluated only for IDGI's most blurred interval
        self.needed = list(range(0 if idgi else 1, steps + 1))

    def points(self, images: torch.Tensor, js: torch.Tensor, whole_steps: bool | None = None):
        if self.capturable:  # the path's taps, built once on the device, not per chunk on the host
            return self.static_points(images, js)
        sigmas = self.sigmas[(self.steps - js).cpu()]
        return blur_path(self.inputs[images], sigmas, self.grad_step, self.padding, backend=self.backend)

    @property
    def capturable(self) -> bool:
        """The Triton blur takes every point's taps as device tensors; the torch and native
        blurs build per-σ matrices on the host, which a CUDA graph cannot capture."""
        return self.backend == "triton"

    def _taps(self):
        if not hasattr(self, "tap_table"):
            # by path index j: the taps of σ_(m−j), every row as wide as the widest of the path
            by_j = self.sigmas.flip(0)
            radii, table, self.max_radius = blur_taps(by_j, self.grad_step)
            self.tap_radii = radii.to(self.inputs.device)
            self.tap_table = table.to(self.inputs.device)
        return self.tap_radii, self.tap_table, self.max_radius

    def static_key(self) -> tuple:
        return (self.steps, self.grad_step, self.padding, self.backend, len(self.needed), self._taps()[2])

    def static_tensors(self) -> list[torch.Tensor]:
        radii, table, _ = self._taps()
        return [self.inputs, radii, table]

    def static_points(self, images: torch.Tensor, js: torch.Tensor):
        if not self.capturable:
            return self.points(images, js)
        # each point loops over its own radius; rows only sit in a table as wide as the path's widest
        radii, table, max_radius = self._taps()
        return blur_path_triton_taps(
            self.inputs[images], radii[js], table[:, js], max_radius, self.padding, slopes=True
        )

    def own(self) -> None:
        """As StraightPath.own: the inputs are the caller's."""
        self.inputs = self.inputs.clone()
        self._taps()

    def load(self, other: BlurPath) -> None:
        self.sigmas = other.sigmas
        for mine, theirs in zip(self.static_tensors(), other.static_tensors()):
            mine.copy_(theirs)

    def base_coefficients(self, js: torch.Tensor, stride: int) -> torch.Tensor:
        i = (self.steps - js).cpu()
        nxt = (i + stride).clamp(max=self.steps)
        used = (i % stride == 0) & (i < self.steps)
        return torch.where(used, -(self.sigmas[nxt] - self.sigmas[i]), 0.0).to(js.device)

    def finish(self, accumulated: torch.Tensor) -> torch.Tensor:
        return accumulated
