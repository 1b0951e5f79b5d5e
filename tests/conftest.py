"""Small models with known answers, shared by the tests."""

from __future__ import annotations

import os
import re
from pathlib import Path

# Triton kernels run on CPU tensors only in its interpreter, which must be chosen before triton is imported.
os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402

from idgi_fast.study import StudyConfig, run_study  # noqa: E402


class LinearLogit(nn.Module):
    """f(x) = [w·x + b, −(w·x + b)] over the flattened input: F_0's gradient is w everywhere."""

    def __init__(self, weight: torch.Tensor, bias: float = 0.3):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())
        self.bias = bias

    def forward(self, x):
        score = (x.flatten(1) * self.weight.flatten()).sum(dim=1) + self.bias
        return torch.stack([score, -score], dim=1)


class Quadratic(nn.Module):
    """F = (2·x₁ + x₂)² (one logit)."""

    def forward(self, x):
        return ((2 * x[:, 0] + x[:, 1]) ** 2).unsqueeze(1)


class SinSum(nn.Module):
    """F = Σ sin(x) over every element (one logit): an elementwise, separable model."""

    def forward(self, x):
        return torch.sin(x).flatten(1).sum(dim=1, keepdim=True)


class TinyCNN(nn.Module):
    """A smooth random CNN (tanh) with 5 classes: gradients are nowhere zero."""

    def __init__(self, channels: int = 3, classes: int = 5, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.conv1 = nn.Conv2d(channels, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1)
        self.head = nn.Linear(8, classes)

    def forward(self, x):
        h = torch.tanh(self.conv1(x))
        h = torch.tanh(self.conv2(h))
        return 3.0 * self.head(h.mean(dim=(2, 3)))


def _torchvision_works() -> bool:
    from idgi_fast.models.zoo import ZooUnavailable, check_zoo_available

    try:
        check_zoo_available()
    except ZooUnavailable:
        return False
    return True


def needs_torchvision(test):
    """Mark a test of the zoo: it runs in .venv-zoo (`make test-zoo`), and skips with the reason
    where torchvision does not import (the CPU torch of .venv, where `make test-core` deselects it)."""
    usable = pytest.mark.skipif(
        not _torchvision_works(), reason="torchvision not usable in this venv: `make test-zoo` runs it"
    )
    return pytest.mark.zoo(usable(test))


def tied_saliency(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Coarse values (many ties) with one constant map."""
    generator = torch.Generator().manual_seed(seed)
    saliency = torch.randint(-3, 4, (batch, height, width), generator=generator).to(torch.float64)
    saliency[0] = 1.0
    return saliency


@pytest.fixture
def tiny_cnn64():
    return TinyCNN().double().eval()


@pytest.fixture
def images64():
    generator = torch.Generator().manual_seed(7)
    return torch.rand(2, 3, 11, 13, generator=generator, dtype=torch.float64)


def peak_bytes(run) -> int:
    """Peak of live CPU tensor memory during run(), from the profiler's allocation records."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        run()
    events = sorted(
        (e for e in recorded.profiler.kineto_results.events() if e.name() == "[memory]"),
        key=lambda e: e.start_ns(),
    )
    live = peak = 0
    for event in events:
        live += event.nbytes()
        peak = max(peak, live)
    return peak


def free_port() -> int:
    """A TCP port free on this machine now, for a torchrun-style rendezvous in a test."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_rank(rank: int, world: int, port: int) -> None:
    """Make this (spawned) process rank `rank` of `world` as torchrun would: its environment, and
    one thread so that the ranks do not fight over the cores."""
    import os

    torch.set_num_threads(1)
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )


def study_results(path) -> dict:
    """Every result table of a study database, as `Store.results` gives them (what two runs of
    the same study must agree on)."""
    from idgi_fast.study.store.database import RESULT_TABLES, Store

    store = Store(path, "test")
    try:
        return {table: store.results(table) for table in RESULT_TABLES}
    finally:
        store.close()


def synthetic_study(path, images: int, models: int = 1) -> dict:
    """bench/study/synthetic.py's study of the paper preset's shape (no model run) written to `path`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "synthetic_study", Path(__file__).parents[1] / "bench" / "study" / "synthetic.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.synthetic_study(path, models=models, images=images)


class RunsOutOfMemory(TinyCNN):
    """Raises CUDA's out-of-memory error for any batch of more than `limit` points."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.sizes = limit, []

    def forward(self, x):
        self.sizes.append(x.shape[0])
        if x.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("simulated")
        return super().forward(x)


# a small study of the embedded model, run once per session; tests only read its database
SMALL_STUDY = StudyConfig(
    methods=("ig", "guided_ig"),
    steps=(2, 4),
    images=5,
    images_per_batch=2,
    metrics=("insertion", "deletion", "sic"),
    metric_options={
        "insertion_canvas": "blur",
        "insertion_levels": 4,
        "pic_levels": 5,
        "information": ("entropy",),
        "webp_method": 0,
        "min_pred": 0.0,
    },
)


@pytest.fixture(scope="session")
def uninterrupted(tmp_path_factory):
    path = tmp_path_factory.mktemp("study") / "whole.sqlite"
    summary = run_study(SMALL_STUDY, path, show_progress=False)
    return path, summary


OWN_MODEL_PAGE = Path(__file__).resolve().parents[1] / "docs" / "own-model.md"


def page_blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block of docs/own-model.md."""
    return re.findall(r"```(\w+)\n(.*?)```", OWN_MODEL_PAGE.read_text(), flags=re.S)


def study_tables_of(path) -> str:
    """The study's tables, as Markdown, from the database at `path`."""
    from idgi_fast.study import Store
    from idgi_fast.study.report.tables import study_tables

    store = Store(path, "test")
    try:
        return "\n".join(table.markdown() for table in study_tables(store))
    finally:
        store.close()
