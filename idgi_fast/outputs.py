"""The explained output F and its input gradient g (docs/semantics.md notation).

F(x) = softmax(f(x))[c] for output="probability", f(x)[c] for output="logit". Gradients are
taken with torch.autograd.grad with respect to the points only, so the model's parameters
never receive a .grad and the model's mode is never touched.
"""

from __future__ import annotations

import torch

OUTPUTS = ("probability", "logit")


class NonFiniteOutput(ValueError):
    """The model's explained output or its input gradient was NaN or Inf at some path point."""


def nonfinite_error(image: int, point: str, target: int | None, count: int) -> NonFiniteOutput:
    """The error for a NaN or Inf F or ∂F/∂x: where (image, path point), the target, how often, the fix."""
    more = f"; {count} such point(s) in all" if count > 1 else ""
    which = f" (target {target})" if target is not None else ""
    return NonFiniteOutput(
        f"the model's explained output or its input gradient is NaN or Inf at {point} for input {image}"
        f"{which}{more}, so the attribution would be NaN. Look for an overflow in the model "
        "(a log of 0, an exp of a large value), keep the inputs in the range it was trained on, or "
        "explain output='logit'."
    )


def check_path_finite(finite: torch.Tensor, targets: torch.Tensor | None, steps: int) -> None:
    """`finite` (B, m + 1): whether F and ∂F/∂x were finite at each evaluated point p_j (True
    where not evaluated); `targets` (B,) the explained classes, or None. One host sync."""
    if bool(finite.all()):
        return
    bad = (~finite).nonzero()
    image, j = (int(v) for v in bad[0])
    target = None if targets is None else int(targets[image])
    raise nonfinite_error(image, f"path point j = {j} of m = {steps}", target, bad.shape[0])


def point_finite(values: torch.Tensor, gradients: torch.Tensor | None = None) -> torch.Tensor:
    """(N,) whether each point's F (and gradient, when given) is finite; no host sync.

    A gradient row is judged by its sum: NaN and ±Inf propagate through a sum, so a finite sum
    means finite entries, and a sum reads the gradient once without building a mask (several
    times cheaper than isfinite().all()). 16-bit gradients are summed in float32, so the sum
    of finite entries overflows only for entries near the dtype's largest value over the row's
    length (|g| ≳ 10³³ for float32 rows of 10⁵), where Σ g² (IDGI) has long overflowed."""
    finite = torch.isfinite(values)
    if gradients is not None:
        rows = gradients.reshape(gradients.shape[0], -1)
        wide = torch.float32 if rows.element_size() < 4 else rows.dtype
        finite &= torch.isfinite(rows.sum(dim=1, dtype=wide))
    return finite


def no_input_gradient(name: str) -> ValueError:
    return ValueError(
        f"{name}'s output does not depend on its input through autograd (it was detached, computed "
        "under torch.no_grad(), or went through NumPy), so it has no input gradient. Remove the "
        ".detach()/no_grad/.numpy() round trip from forward."
    )


def check_logits(logits: object, n_points: int, targets: torch.Tensor, device=None) -> torch.Tensor:
    """The model's output checked for what every caller relies on: a floating (N, K) tensor on
    the points' `device` with every target in [0, K). No host sync unless targets are checked."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(
            f"model must return a logits tensor of shape (B, K); it returned {type(logits).__name__}. "
            "Wrap it so that it returns the logits tensor alone."
        )
    if logits.ndim != 2 or logits.shape[0] != n_points:
        raise ValueError(
            f"model must return logits of shape (B, K) = ({n_points}, K) for {n_points} inputs; "
            f"got shape {tuple(logits.shape)}. Wrap the model so that it returns one row of class scores "
            "per input."
        )
    if not logits.is_floating_point():
        raise TypeError(
            f"model must return floating-point logits; it returned {logits.dtype}, which has no gradient. "
            "Return the scores before any rounding or argmax."
        )
    if device is not None and logits.device != torch.device(device):
        raise ValueError(
            f"model returned logits on {logits.device} for inputs on {device}; keep the model's output on "
            "the inputs' device (no .cpu()/.to() at the end of forward)"
        )
    n_classes = logits.shape[1]
    if targets.numel() and int(targets.max()) >= n_classes:
        raise ValueError(
            f"target must lie in [0, {n_classes}) for a model with {n_classes} outputs; got "
            f"{int(targets.max())}"
        )
    return logits


def explained_output(logits: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    scores = torch.softmax(logits, dim=1) if output == "probability" else logits
    return scores.gather(1, targets.view(-1, 1)).squeeze(1)


def output_and_gradient(
    model, points: torch.Tensor, targets: torch.Tensor, output: str, check_targets: bool | torch.Tensor = True
):
    """F at each point (N,) and ∂F/∂point (shaped like points), from one forward+backward.
    check_targets: True checks the points' targets against the logits' classes (a host sync);
    a tensor checks those targets instead (a stream's every target, at its first chunk); False
    checks none (work captured as a CUDA graph, or later chunks, whose caller checked them once)."""
    with torch.enable_grad():
        leaf = points.detach().requires_grad_(True)
        if isinstance(check_targets, torch.Tensor):
            checked = check_targets
        else:
            checked = targets if check_targets else targets[:0]
        logits = check_logits(model(leaf), leaf.shape[0], checked, leaf.device)
        values = explained_output(logits, targets, output)
        gradient = None
        if values.requires_grad:
            (gradient,) = torch.autograd.grad(values.sum(), leaf, allow_unused=True)
    if gradient is None:
        raise no_input_gradient("model")
    return values.detach(), gradient


def output_only(model, points: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    with torch.no_grad():
        logits = check_logits(model(points), points.shape[0], targets, points.device)
        return explained_output(logits, targets, output)
