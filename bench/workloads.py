"""The end-to-end benchmarks' workloads: built lazily, once, by name; ResNet-50 with random weights."""

from __future__ import annotations

import pytest
import torch

# methods whose reference walks each image in a Python loop: timed once, and not on ResNet-50
SLOW_REFERENCE = ("guided_ig",)


class Workloads:
    """Named workload builders, each built once on first use (a builder may pytest.skip)."""

    def __init__(self, builders: dict):
        self.builders, self.built = builders, {}

    def names(self) -> list[str]:
        return list(self.builders)

    def __getitem__(self, name: str):
        if name not in self.built:
            self.built[name] = self.builders[name]()
        return self.built[name]


def random_resnet50(why_gpu: str):
    """The zoo's ResNet-50 with random weights (seed 0) in eval mode on the GPU; the benchmark
    is skipped without torchvision or without CUDA (`why_gpu` says why)."""
    from idgi_fast.models.zoo import ZooUnavailable, build_model, check_zoo_available

    try:
        check_zoo_available()
    except ZooUnavailable as error:
        pytest.skip(str(error))
    if not torch.cuda.is_available():
        pytest.skip(why_gpu)
    torch.manual_seed(0)
    return build_model("resnet50", None, "cuda")
