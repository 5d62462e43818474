"""LPIPS v0.1's network (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features") on AlexNet.

The metric itself (its spec and per-image function) is ``benchmark.metrics.lpips``, which imports this
module, and so torch, only when LPIPS is computed.

Hand-written in plain torch because the official ``lpips`` package builds its backbone with torchvision,
which this project does not install; ``tests/metrics/test_metrics_lpips.py`` checks this module against
``lpips.LPIPS(net='alex', version='0.1')`` itself within 1e-5.

The distance of two images: each passes through the ScalingLayer (shift [-.030, -.088, -.188], scale
[.458, .448, .450]) and torchvision's ``alexnet().features``; at the five ReLU outputs every pixel's
channel vector is divided by its norm (+ 1e-10), the squared difference of the two images' vectors is
weighted per channel by the 1x1 linear layer ``lin<k>``, averaged over space and summed over the layers.
0 for identical images, larger is less similar.

Conventions: the project's (H, W) grayscale images in [0, data_range] are replicated to three channels
and mapped to [-1, 1] (2 x / data_range - 1), the range LPIPS was trained on.  Computed in float32 on
the CPU (so a cached value does not depend on the machine), one image pair per forward pass, so a
value never depends on the other images of a call.

Weights, both given by the user (nothing is downloaded):

- ``backbone``: torchvision's AlexNet ImageNet weights (``AlexNet_Weights.IMAGENET1K_V1``, the file
  ``alexnet-owt-7be5be79.pth``); its ``features.*`` tensors are used, the classifier's are ignored.
- ``linear``: LPIPS v0.1's ``alex.pth`` (keys ``lin0.model.1.weight`` ... ``lin4.model.1.weight``),
  shipped inside the ``lpips`` pip package at ``lpips/weights/v0.1/alex.pth``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from benchmark.manifest import sha256_file
from cxr_kernel.errors import UserError

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
# Channels at the five ReLU outputs LPIPS compares, and their indices in ``alexnet().features``.
CHANNELS = (64, 192, 384, 256, 256)
TAPS = (1, 4, 7, 9, 11)
_EPSILON = 1e-10
BACKBONE_FIX = (
    "Give torchvision's AlexNet ImageNet weights, alexnet-owt-7be5be79.pth "
    "(https://download.pytorch.org/models/alexnet-owt-7be5be79.pth), as quality.lpips.backbone."
)
LINEAR_FIX = (
    "Give LPIPS v0.1's alex.pth as quality.lpips.linear: it ships inside the `lpips` pip package at "
    "lpips/weights/v0.1/alex.pth (`pip download --no-deps lpips==0.1.4` and unzip the wheel)."
)


class LpipsWeights(Protocol):
    """The two weight files (``benchmark.pipeline.config.LpipsConfig`` in a suite)."""

    backbone: Path
    linear: Path


def alexnet_features() -> nn.Sequential:
    """torchvision's ``alexnet().features``: the same layers, so the same state-dict keys."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


class LpipsNetwork(nn.Module):
    """AlexNet features up to the last ReLU, and the five per-channel weights of the linear layers."""

    def __init__(self):
        super().__init__()
        self.features = alexnet_features()[: TAPS[-1] + 1]
        self.linear = nn.ParameterList(nn.Parameter(torch.zeros(1, c, 1, 1)) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def _normalised_taps(self, images: torch.Tensor) -> list[torch.Tensor]:
        taps, x = [], (images - self.shift) / self.scale
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAPS:
                taps.append(x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + _EPSILON))
        return taps

    def forward(self, reference: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """LPIPS of (N, 3, H, W) images in [-1, 1]; returns (N,)."""
        taps = self._normalised_taps(torch.cat([reference, image]))
        count = len(reference)
        distance = torch.zeros(count, dtype=reference.dtype, device=reference.device)
        for tap, weight in zip(taps, self.linear, strict=True):
            squared = (tap[:count] - tap[count:]) ** 2
            distance = distance + torch.sum(squared * weight, dim=1).mean(dim=(1, 2))
        return distance


def _state_dict(path: Path, what: str, fix: str) -> dict:
    if not Path(path).is_file():
        raise UserError(f"LPIPS {what} file not found: {path}. {fix}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # any unreadable or unsafe pickle: say which file, not torch's internals
        raise UserError(
            f"LPIPS {what} file {path} is not a readable torch state dict ({error}). {fix}"
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"LPIPS {what} file {path} holds a {type(state).__name__}, not a state dict. {fix}")
    return state


def _check_keys(state: dict, expected: dict[str, torch.Size], path: Path, what: str, fix: str) -> None:
    """Every expected key with its shape; other keys (AlexNet's classifier, say) are ignored."""
    wrong = []
    for key, shape in expected.items():
        value = state.get(key)
        if not isinstance(value, torch.Tensor):
            wrong.append(f"{key} missing")
        elif value.shape != shape:
            wrong.append(f"{key} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    if wrong:
        listed = "; ".join(wrong[:4]) + ("; ..." if len(wrong) > 4 else "")
        raise UserError(f"LPIPS {what} file {path} does not match ({listed}). {fix}")


def _load(backbone: Path, linear: Path) -> LpipsNetwork:
    network = LpipsNetwork()
    features = {f"features.{key}": value for key, value in network.features.state_dict().items()}
    state = _state_dict(backbone, "backbone", BACKBONE_FIX)
    _check_keys(
        state, {key: value.shape for key, value in features.items()}, backbone, "backbone", BACKBONE_FIX
    )
    network.features.load_state_dict({key[len("features.") :]: state[key].float() for key in features})
    names = [f"lin{index}.model.1.weight" for index in range(len(CHANNELS))]
    state = _state_dict(linear, "linear-layer", LINEAR_FIX)
    shapes = {name: torch.Size([1, c, 1, 1]) for name, c in zip(names, CHANNELS, strict=True)}
    _check_keys(state, shapes, linear, "linear-layer", LINEAR_FIX)
    for parameter, name in zip(network.linear, names, strict=True):
        parameter.copy_(state[name].float())
    return network


@functools.lru_cache(maxsize=2)
def _cached_network(backbone: Path, linear: Path, stamps: tuple) -> LpipsNetwork:
    return _load(backbone, linear)


def _stamps(weights: LpipsWeights) -> tuple:
    """(size, mtime) of both files, so an edited file is loaded again, not served from the cache."""
    return tuple(
        (stat.st_size, stat.st_mtime_ns)
        for stat in (Path(p).stat() for p in (weights.backbone, weights.linear) if Path(p).is_file())
    )


def load_network(weights: LpipsWeights | None) -> LpipsNetwork:
    """The LPIPS network of ``weights`` (loaded once per process); ``UserError`` naming a bad file."""
    if weights is None:
        raise UserError(
            "The lpips metric needs its weights: set `quality: {lpips: {backbone: alexnet-owt-7be5be79.pth, "
            "linear: alex.pth}}` in the suite. " + BACKBONE_FIX + " " + LINEAR_FIX
        )
    return _cached_network(Path(weights.backbone), Path(weights.linear), _stamps(weights))


@functools.lru_cache(maxsize=4)
def _digest(backbone: Path, linear: Path, stamps: tuple) -> str:
    return f"{sha256_file(backbone)}:{sha256_file(linear)}"


def weights_sha256(weights: LpipsWeights) -> str:
    """sha256 of the backbone and of the linear-layer file, joined: part of the quality cache key."""
    return _digest(Path(weights.backbone), Path(weights.linear), _stamps(weights))


def lpips_distances(
    reference: np.ndarray, image: np.ndarray, data_range: float, *, network: LpipsNetwork
) -> np.ndarray:
    """LPIPS of each (N, H, W) image against its reference (validated, cropped); returns (N,) float64."""
    pair = [
        torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[:, None].expand(-1, 3, -1, -1)
        for stack in (reference, image)
    ]
    with torch.inference_mode():
        values = [
            network(2 * pair[0][i : i + 1] / data_range - 1, 2 * pair[1][i : i + 1] / data_range - 1)
            for i in range(len(reference))
        ]
    return torch.cat(values).double().numpy()
