"""Composite op: every metric image of a batch in one pass (docs/semantics.md §6).

For images i with per-pixel ranks (descending saliency, ties to the lower flat index) and
level counts n_l, metric image l shows the top n_l pixels (all channels) of `shown` over
`hidden`:

    out[i, l, c, p] = shown[i, c, p] if ranks[i, p] < n_l else hidden[i, c, p]

Insertion and the SIC/AIC blur bokeh images are (shown, hidden) = (input, canvas); deletion
is (canvas, input). Each value is copied, never computed, so every implementation gives the
reference's images bit for bit.
"""

from __future__ import annotations

import torch

from .backends import implementation
from .launches import declare, launch_block, launch_blocks, pointer


def composite_torch(
    shown: torch.Tensor, hidden: torch.Tensor, ranks: torch.Tensor, counts: torch.Tensor
) -> torch.Tensor:
    revealed = ranks[:, None] < counts[None, :, None, None]  # (B, L, H, W)
    return torch.where(revealed[:, :, None], shown[:, None], hidden[:, None])


BLOCK = 1024  # pixels a program composites (fewer when the image has fewer)


def composite_triton(shown, hidden, ranks, counts, block: int = BLOCK) -> torch.Tensor:
    import triton

    from ..kernels.composite import composite_kernel

    batch, channels, height, width = shown.shape
    n_pixels, n_levels = height * width, counts.numel()
    if n_pixels >= 2**31:
        raise ValueError(
            f"the composite kernel ranks pixels in int32; {height}×{width} images have too many pixels"
        )
    out = torch.empty((batch, n_levels, channels, height, width), dtype=shown.dtype, device=shown.device)
    block = launch_block(n_pixels, block)
    grid = (batch, n_levels, triton.cdiv(n_pixels, block))
    # int32 ranks (H·W < 2³¹): a quarter less traffic per metric-image pixel than int64
    composite_kernel[grid](
        shown.contiguous(),
        hidden.contiguous(),
        ranks.to(torch.int32).contiguous(),
        counts.to(torch.int32).contiguous(),
        out,
        channels,
        n_pixels,
        n_levels,
        BLOCK=block,
    )
    return out


def triton_launches() -> list:
    """Every launch of this op's kernel (ops/launches.py): both float types of the images, every
    block launch_block takes for an image."""
    from ..kernels.composite import composite_kernel

    launches = []
    for dtype in (torch.float32, torch.float64):
        for block in launch_blocks(BLOCK):
            launches += declare(
                composite_kernel,
                **dict.fromkeys(("shown_ptr", "hidden_ptr"), pointer(dtype)),
                **dict.fromkeys(("ranks_ptr", "counts_ptr"), "*i32"),
                out_ptr=pointer(dtype),
                **dict.fromkeys(("n_channels", "n_pixels", "n_levels"), "i32"),
                BLOCK=block,
            )
    return launches


COMPOSITE = {"torch": composite_torch, "triton": composite_triton}


def composite(
    shown: torch.Tensor,
    hidden: torch.Tensor,
    ranks: torch.Tensor,
    counts: torch.Tensor,
    backend: str = "torch",
) -> torch.Tensor:
    """(B, L, C, H, W) metric images from shown/hidden (B, C, H, W), ranks (B, H, W) int64 and
    counts (L,) int64, all on one device."""
    if shown.shape != hidden.shape or ranks.shape != (shown.shape[0], *shown.shape[-2:]):
        raise ValueError(
            f"composite needs shown and hidden of one shape (B, C, H, W) and ranks (B, H, W); got "
            f"{tuple(shown.shape)}, {tuple(hidden.shape)}, {tuple(ranks.shape)}"
        )
    return implementation(COMPOSITE, backend)(shown, hidden, ranks, counts)
