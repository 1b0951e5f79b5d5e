"""The metric oracle: docs/semantics.md §6 read literally, one image at a time in plain
PyTorch, Pillow and pytorch-msssim. `evaluate(backend="reference")` runs it; the fast
metrics (idgi_fast.metrics) are tested against it."""

from .common import Scorer, level_counts, pixel_ranks, reveal_stack, to_uint8, trapezoid
from .information import check_msssim_options, composed_msssim, compressed_sizes, msssim
from .insertion import (
    CANVASES,
    InsertionCurves,
    curve_scores,
    deletion_images,
    insertion_canvas,
    insertion_deletion,
    insertion_images,
)
from .pic import (
    CURVE_POINTS,
    PAIR_THRESHOLDS,
    SKIP_REASONS,
    PicCurves,
    aggregate_curves,
    blur_bokeh,
    bokeh_maker,
    curve_auc,
    curves_from_levels,
    normalise,
    pair_bokeh,
    pic_curve,
    pic_levels,
)

__all__ = [
    "Scorer",
    "level_counts",
    "pixel_ranks",
    "reveal_stack",
    "to_uint8",
    "trapezoid",
    "check_msssim_options",
    "composed_msssim",
    "compressed_sizes",
    "msssim",
    "CANVASES",
    "InsertionCurves",
    "curve_scores",
    "deletion_images",
    "insertion_canvas",
    "insertion_deletion",
    "insertion_images",
    "CURVE_POINTS",
    "PAIR_THRESHOLDS",
    "SKIP_REASONS",
    "PicCurves",
    "aggregate_curves",
    "blur_bokeh",
    "bokeh_maker",
    "curve_auc",
    "curves_from_levels",
    "normalise",
    "pair_bokeh",
    "pic_curve",
    "pic_levels",
]
