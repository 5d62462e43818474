"""Standard CNNs for the ``torch`` classifier type, transcribed from torchvision (no torchvision import).

torchvision cannot be installed beside this project's CPU torch, so ResNet-18 and MobileNetV2 are
transcribed here from torchvision 0.29 (``torchvision/models/resnet.py`` and ``mobilenetv2.py``,
Copyright (c) Soumith Chintala 2016, BSD 3-Clause License: https://github.com/pytorch/vision/blob/main/LICENSE).
Module names, shapes and initialisation are torchvision's, so ``state_dict()`` has torchvision's keys
and a torchvision file of the same architecture (with a one-unit head) loads strictly.

One addition, inside the graph and without parameters: every model takes grayscale images
(N, 1, H, W) in [0, 1], replicates them to three channels and applies torchvision's ImageNet
normalisation (mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225). Its one output is the logit of
P(pneumonia).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from classifiers.torch_arch_table import ARCHS

#: torchvision's ImageNet normalisation, applied in the graph.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _GreyInput(nn.Module):
    """Base of the models here: (N, 1, H, W) in [0, 1] -> normalised 3-channel tensor.

    The statistics are non-persistent buffers, so the state dict stays torchvision's.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("input_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, x: Tensor) -> Tensor:
        return (x.expand(-1, 3, -1, -1) - self.input_mean) / self.input_std


# --- ResNet-18 (torchvision/models/resnet.py: conv3x3, conv1x1, BasicBlock, ResNet) ----------------


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet(_GreyInput):
    """torchvision's ``ResNet`` with ``BasicBlock`` (groups 1, width 64, no dilation)."""

    def __init__(self, layers: list[int], num_classes: int = 1) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, layers[0])
        self.layer2 = self._make_layer(128, layers[1], stride=2)
        self.layer3 = self._make_layer(256, layers[2], stride=2)
        self.layer4 = self._make_layer(512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * BasicBlock.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * BasicBlock.expansion:
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * BasicBlock.expansion, stride),
                nn.BatchNorm2d(planes * BasicBlock.expansion),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * BasicBlock.expansion
        layers += [BasicBlock(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.normalise(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18() -> ResNet:
    """ResNet-18 (He et al. 2016) with one output unit; 11,177,025 parameters."""
    return ResNet([2, 2, 2, 2])


# --- MobileNetV2 (torchvision/models/mobilenetv2.py, ops/misc.py Conv2dNormActivation) -------------


class _ConvBNReLU6(nn.Sequential):
    """torchvision's ``Conv2dNormActivation(..., activation_layer=nn.ReLU6)``: conv (no bias), BN, ReLU6."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, groups: int = 1
    ):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_ConvBNReLU6(inp, hidden_dim, kernel_size=1))
        layers += [
            _ConvBNReLU6(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


#: MobileNetV2's blocks: expansion t, channels c, repeats n, first stride s (width multiplier 1).
_MOBILENET_V2_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MobileNetV2(_GreyInput):
    """torchvision's ``MobileNetV2`` at width multiplier 1 (channels already multiples of 8)."""

    def __init__(self, num_classes: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
        input_channel, last_channel = 32, 1280
        features: list[nn.Module] = [_ConvBNReLU6(3, input_channel, stride=2)]
        for t, c, n, s in _MOBILENET_V2_SETTING:
            for i in range(n):
                features.append(InvertedResidual(input_channel, c, s if i == 0 else 1, expand_ratio=t))
                input_channel = c
        features.append(_ConvBNReLU6(input_channel, last_channel, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last_channel, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(self.normalise(x))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, (1, 1)), 1)
        return self.classifier(x)


def mobilenet_v2() -> MobileNetV2:
    """MobileNetV2 (Sandler et al. 2018) with one output unit; 2,225,153 parameters."""
    return MobileNetV2()


def build(arch: str) -> nn.Module:
    """The untrained model ``arch`` (a name in ``ARCHS``): grey [0, 1] input, one logit out."""
    return ARCHS.get(arch)()


def target_layer(model: nn.Module) -> nn.Module:
    """The last convolutional stage, whose activations Grad-CAM weighs."""
    return model.layer4 if isinstance(model, ResNet) else model.features
