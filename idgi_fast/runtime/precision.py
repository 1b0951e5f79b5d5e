"""How the model is evaluated along the path (docs/backends.md §13): the CUDA numerics flags of a
precision, and the bf16 autocast wrapper."""

from __future__ import annotations

from contextlib import contextmanager

import torch

# how the model is evaluated (docs/backends.md §13); the attribution's own arithmetic (path
# points, IDGI, accumulation) is float32/float64 under every one
PRECISIONS = ("fp32", "tf32", "bf16")


def check_precision(precision: object) -> str:
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS} (fp32: exact float32, the default; tf32: TF32 "
            f"matmuls and convolutions on CUDA; bf16: the model under bfloat16 autocast), got {precision!r}"
        )
    return precision


@contextmanager
def numerics(precision: str = "fp32"):
    """Inside the block, the CUDA flags of a `precision` (PRECISIONS); the caller's flags are
    restored after.

    "fp32": TF32 off for cuDNN convolutions and CUDA matmuls, and cuDNN's deterministic
    algorithms. torch enables TF32 convolutions by default, and Guided IG's path depends on the
    ranking of every gradient, so TF32 moves it outside docs/semantics.md §7 and cuDNN's
    non-deterministic backward algorithms make two identical runs differ. Deterministic float32
    makes every run the same.
    "tf32" and "bf16": TF32 on and cuDNN free to pick its fastest algorithms (the bf16 autocast
    itself wraps the model: with_precision).
    """
    saved = (
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.deterministic,
    )
    exact = precision == "fp32"
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = not exact
    torch.backends.cudnn.deterministic = exact
    try:
        yield
    finally:
        (
            torch.backends.cudnn.allow_tf32,
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.deterministic,
        ) = saved


def full_float32():
    """numerics("fp32"): what every check, metric and reference evaluation runs under."""
    return numerics("fp32")


class Autocast:
    """`wrapped` (a model) under torch.autocast to `dtype`; its logits come back in the points'
    dtype, so F and the input gradient are float32 while the model's matmuls and convolutions run
    in `dtype`. The wrapped model is not modified."""

    def __init__(self, wrapped, dtype: torch.dtype, device_type: str):
        self.wrapped, self.dtype, self.device_type = wrapped, dtype, device_type
        self.tag = ("autocast", dtype, device_type)

    def __call__(self, points: torch.Tensor):
        with torch.autocast(self.device_type, dtype=self.dtype):
            logits = self.wrapped(points)
        if isinstance(logits, torch.Tensor) and logits.is_floating_point():
            return logits.to(points.dtype)
        return logits


def with_precision(model, precision: str, device: torch.device):
    """The model as a `precision` evaluates it: itself, or under bf16 autocast."""
    return Autocast(model, torch.bfloat16, device.type) if precision == "bf16" else model


class WithNumerics:
    """`wrapped` (a model) called under numerics(`precision`), whatever flags its caller set: the
    metrics score inside full_float32(), and this is how a scoring pass opts out of it."""

    def __init__(self, wrapped, precision: str):
        self.wrapped, self.precision = wrapped, precision
        self.tag = ("numerics", precision)

    def __call__(self, images: torch.Tensor):
        with numerics(self.precision):
            return self.wrapped(images)


def scoring_model(model, precision: str, device: torch.device):
    """The model as evaluate(precision=…) scores with it: itself at "fp32" (the metrics' own
    full_float32 applies), else every call under the precision's flags and, for bf16, autocast."""
    if precision == "fp32":
        return model
    return WithNumerics(with_precision(model, precision, device), precision)
