"""The default chunk (validation.default_batch_size): a power of two holding at most
CPU_CHUNK_VALUES input values on the CPU, within [1, 32]; 64 on CUDA; and what explain and
evaluate actually send through the model when batch_size is None."""

from __future__ import annotations

import pytest
import torch

import idgi_fast
from idgi_fast.validation import CPU_CHUNK_VALUES, default_batch_size, resolve_batch_size


@pytest.mark.parametrize(
    "shape, chunk",
    [((3, 32, 32), 32), ((3, 64, 64), 32), ((3, 224, 224), 8), ((3, 299, 299), 4), ((3, 1024, 1024), 1)],
)
def test_the_cpu_rule_by_input_size(shape, chunk):
    values = shape[0] * shape[1] * shape[2]
    assert default_batch_size("cpu", values) == chunk
    assert chunk * values <= CPU_CHUNK_VALUES or chunk == 1
    assert chunk == 32 or 2 * chunk * values > CPU_CHUNK_VALUES  # the largest power of two that fits


def test_cuda_and_unknown_sizes_keep_the_fixed_defaults():
    assert default_batch_size("cuda") == default_batch_size("cuda", 3 * 224 * 224) == 64
    assert default_batch_size("cpu") == 32
    assert resolve_batch_size(5, "cpu", values_per_item=3 * 224 * 224) == 5  # a given size is kept


class CallSizes(torch.nn.Module):
    """A linear classifier of the mean colour that records how many images each call took."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 4)
        self.sizes = []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        return self.linear(x.mean(dim=(2, 3)))


def test_explain_and_evaluate_send_the_ruled_chunk_through_the_model():
    torch.manual_seed(0)
    model, images = CallSizes(), torch.rand(2, 3, 224, 224)
    idgi_fast.explain(model, images, target=[0, 1], steps=15, backend="torch")  # 32 points
    assert max(model.sizes) == 8 and model.sizes.count(8) >= 4
    model.sizes.clear()
    images = torch.rand(40, 3, 224, 224)
    idgi_fast.evaluate(model, images, images, target=[0] * 40, metrics=["insertion"], insertion_levels=3)
    assert max(model.sizes) == 8  # the originals in chunks of 8, then 2 images × 4 levels per call
