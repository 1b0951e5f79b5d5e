"""Every op by name with its table of implementations ({"torch": …, "native": …, "triton": …}), for
`idgi-fast info`; the tables themselves live beside their ops."""

from __future__ import annotations

from .accumulate import ACCUMULATE, SQUARED_NORMS
from .blur_path import BLUR_PATH
from .composite import COMPOSITE
from .guided_step import GUIDED_STEP
from .information_curves import INFORMATION_CURVES, LARGEST_LEVELS
from .linear_imputation import LINEAR_IMPUTATION
from .msssim_levels import MSSSIM_LEVELS
from .piecewise_linear import PIECEWISE_LINEAR
from .quantise import QUANTISE_HWC
from .resampled_medians import RESAMPLED_MEDIANS
from .target_probabilities import TARGET_PROBABILITIES

OPS = {
    "accumulate": ACCUMULATE,
    "blur_path": BLUR_PATH,
    "composite": COMPOSITE,
    "guided_step": GUIDED_STEP,
    "information_curves": INFORMATION_CURVES,
    "linear_imputation": LINEAR_IMPUTATION,
    "msssim_levels": MSSSIM_LEVELS,
    "piecewise_linear": PIECEWISE_LINEAR,
    "quantise_hwc": QUANTISE_HWC,
    "resampled_medians": RESAMPLED_MEDIANS,
    "squared_norms": SQUARED_NORMS,
    "target_probabilities": TARGET_PROBABILITIES,
}

# implementations an op takes for some calls only (the `applies` of its implementation() call);
# the others run its torch implementation
ONLY_FOR = {
    ("information_curves", "triton"): f"at most {LARGEST_LEVELS - 2} levels, not PAIR's point order",
}
