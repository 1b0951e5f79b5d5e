"""The linear imputation op (ROAD's, docs/metrics.md §15): its torch and native solvers against
the reference's explicit sparse system, analytic cases, and Quantus's imputer (an adaptation of
road_evaluation's NoisyLinearImputer) where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from tolerance import SOLVED

from idgi_fast.ops.linear_imputation import _hierarchy, linear_imputation
from idgi_fast.ops.native import native_error
from idgi_fast.reference.metrics.road import linear_imputation_reference

BACKENDS = ["torch"] + (["native"] if native_error() is None else [])


def blob_masks(count: int, height: int, width: int, fractions, seed: int = 0) -> torch.Tensor:
    """Removal masks of smooth saliency (blobs that touch the border) at the given fractions."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(count, 1, height, width, generator=generator)
    smooth = F.avg_pool2d(noise, 7, 1, 3, count_include_pad=False)[:, 0].flatten(1)
    order = smooth.argsort(dim=1, descending=True)
    masks = torch.zeros(count, height * width, dtype=torch.bool)
    for i, fraction in enumerate(fractions):
        masks[i, order[i, : int(height * width * fraction)]] = True
    return masks.view(count, height, width)


CASES = [
    # (channels, height, width, kind): odd sizes, one row or column of removal, nearly everything removed
    (3, 19, 23, "blob"),
    (1, 16, 16, "scattered"),
    (3, 9, 33, "blob"),
    (2, 40, 31, "scattered"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("channels, height, width, kind", CASES)
def test_the_op_solves_the_references_system(backend, channels, height, width, kind):
    fractions = [0.0, 0.1, 0.5, 0.9, 0.99]
    generator = torch.Generator().manual_seed(height * width)
    images = torch.rand(len(fractions), channels, height, width, generator=generator, dtype=torch.float64)
    if kind == "blob":
        removed = blob_masks(len(fractions), height, width, fractions)
    else:
        removed = (
            torch.rand(len(fractions), height, width, generator=generator)
            < torch.tensor(fractions)[:, None, None]
        )
    removed[-1, :, 0] = True  # a whole border column
    got = linear_imputation(images, removed, backend)
    want = torch.stack([linear_imputation_reference(image, mask) for image, mask in zip(images, removed)])
    assert got.dtype == torch.float64 and got.shape == images.shape
    assert torch.equal(got[~removed[:, None].expand_as(images)], images[~removed[:, None].expand_as(images)])
    torch.testing.assert_close(got, want, **SOLVED)


@pytest.mark.parametrize("backend", BACKENDS)
def test_affine_images_are_reproduced_inside_and_constants_everywhere(backend):
    """The stencil's weights are symmetric, so an affine image is its own weighted neighbour mean
    away from the border; a constant image is one everywhere, border included."""
    height, width = 24, 30
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    affine = (0.3 + 0.01 * y - 0.02 * x)[None, None]
    removed = torch.zeros(1, height, width, dtype=torch.bool)
    removed[0, 3:20, 4:25] = True
    torch.testing.assert_close(linear_imputation(affine, removed, backend), affine, **SOLVED)
    constant = torch.full((1, 2, height, width), 0.7, dtype=torch.float64)
    everything_but_one = torch.ones(1, height, width, dtype=torch.bool)
    everything_but_one[0, 5, 7] = False
    imputed = linear_imputation(constant, everything_but_one, backend)
    torch.testing.assert_close(imputed, torch.full_like(imputed, 0.7), **SOLVED)


def test_backends_agree_and_one_system_does_not_depend_on_its_batch():
    removed = blob_masks(4, 21, 18, [0.2, 0.4, 0.6, 0.95], seed=3)
    images = torch.rand(4, 3, 21, 18, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    together = {backend: linear_imputation(images, removed, backend) for backend in BACKENDS}
    for backend in BACKENDS:
        alone = linear_imputation(images[2:3], removed[2:3], backend)
        torch.testing.assert_close(alone, together[backend][2:3], **SOLVED)
        torch.testing.assert_close(together[backend], together["torch"], **SOLVED)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("channels, height, width", [(3, 17, 13), (1, 32, 32), (3, 7, 40)])
def test_parity_with_quantus_noisy_linear_imputation(backend, channels, height, width):
    """Quantus's noisy_linear_imputation (noise 0) builds road_evaluation's system with scipy and
    solves it with spsolve, one image at a time: the imputed images agree to 1e−6."""
    perturb = pytest.importorskip("quantus.functions.perturb_func")
    fractions = [0.05, 0.3, 0.7, 0.95]
    removed = blob_masks(len(fractions), height, width, fractions, seed=channels)
    removed[0, 0, :] = True  # the top border row
    images = torch.rand(len(fractions), channels, height, width, generator=torch.Generator().manual_seed(1))
    got = linear_imputation(images.double(), removed, backend)
    for image, mask, ours in zip(images.double(), removed, got):
        indices = np.flatnonzero(mask.numpy())
        theirs = perturb.noisy_linear_imputation(image.numpy(), indices, noise=0.0)
        assert np.abs(ours.numpy() - theirs).max() <= 1e-6


def test_the_triton_kernel_is_the_torch_stencil_and_sweep(monkeypatch):
    """Under the interpreter (slow: one small grid for the kernel, a tiny solve end to end, with
    fewer coarse sweeps — any symmetric positive definite preconditioner gives the same solution)."""
    generator = torch.Generator().manual_seed(9)
    removed = torch.rand(3, 13, 21, generator=generator) < 0.6
    v = torch.randn(3, 13, 21, generator=generator, dtype=torch.float64) * removed
    rhs = torch.randn(3, 13, 21, generator=generator, dtype=torch.float64) * removed
    (plain,), (fused,) = _hierarchy(removed)[:1], _hierarchy(removed, kernel=True)[:1]
    assert (fused.apply(v) - plain.apply(v)).abs().max() <= 1e-15
    assert (fused.smooth(v, rhs) - plain.smooth(v, rhs)).abs().max() <= 1e-15
    monkeypatch.setattr("idgi_fast.ops.linear_imputation._COARSE_SWEEPS", 4)
    images = torch.rand(1, 1, 9, 10, generator=generator, dtype=torch.float64)
    holes = blob_masks(1, 9, 10, [0.8])
    want = torch.stack([linear_imputation_reference(image, mask) for image, mask in zip(images, holes)])
    torch.testing.assert_close(linear_imputation(images, holes, "triton"), want, **SOLVED)
