"""The explained output F and its input gradient g (docs/semantics.md notation).

F(x) = softmax(f(x))[c] for output="probability", f(x)[c] for output="logit". Gradients are
taken with torch.autograd.grad with respect to the points only, so the model's parameters
never receive a .grad and the model's mode is never touched.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

OUTPUTS = ("probability", "logit")


@contextmanager
def full_float32():
    """Inside the block: TF32 off for cuDNN convolutions and CUDA matmuls, and cuDNN's
    deterministic algorithms; the caller's flags are restored after.

    torch enables TF32 convolutions by default, and Guided IG's path depends on the ranking
    of every gradient: TF32 moved it far outside docs/semantics.md §7, and cuDNN's
    non-deterministic backward algorithms made two identical runs differ (bench/RESULTS.md,
    first H100 entry). Deterministic float32 makes every run the same.
    """
    saved = (
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.deterministic,
    )
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.deterministic = True
    try:
        yield
    finally:
        (
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.deterministic,
        ) = saved


def check_logits(logits: object, n_points: int, targets: torch.Tensor) -> torch.Tensor:
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


def output_and_gradient(model, points: torch.Tensor, targets: torch.Tensor, output: str):
    """F at each point (N,) and ∂F/∂point (shaped like points), from one forward+backward."""
    with torch.enable_grad():
        leaf = points.detach().requires_grad_(True)
        logits = check_logits(model(leaf), leaf.shape[0], targets)
        values = explained_output(logits, targets, output)
        (gradient,) = torch.autograd.grad(values.sum(), leaf)
    return values.detach(), gradient


def output_only(model, points: torch.Tensor, targets: torch.Tensor, output: str) -> torch.Tensor:
    with torch.no_grad():
        logits = check_logits(model(points), points.shape[0], targets)
        return explained_output(logits, targets, output)
