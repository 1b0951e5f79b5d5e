"""Captum-compatible Integrated Gradients (and an IDGI class of the same shape) on our streaming path.

`from idgi_fast.captum import IntegratedGradients` replaces `from captum.attr import
IntegratedGradients`: the same constructor and `attribute` signature and the same results —
Captum's five approximation methods, tensor or tuple inputs, baselines, target forms,
`additional_forward_args`, `internal_batch_size`, `multiply_by_inputs` and the convergence
delta. Unlike Captum, the scaled inputs are never all built at once: both classes run on the
package's streaming engine (engine/stream.py), which sends `internal_batch_size` path points
through the forward function at a time and folds their gradients into the running sums at
once, so memory does not grow with `n_steps`. Tuple inputs travel through the engine as one
flat row per example and are split back into their shapes for the forward function. The
explained output is the forward function's raw output at the target, as in Captum.
"""

from .errors import CaptumArgumentError
from .gradient_shap import GradientShap
from .integrated_gradients import IDGI, IntegratedGradients
from .noise_tunnel import NoiseTunnel
from .quadrature import METHODS, alphas_and_step_sizes

__all__ = [
    "CaptumArgumentError",
    "GradientShap",
    "IDGI",
    "IntegratedGradients",
    "METHODS",
    "NoiseTunnel",
    "alphas_and_step_sizes",
]
