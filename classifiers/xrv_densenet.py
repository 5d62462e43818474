"""torchxrayvision's DenseNet-121, transcribed (torchxrayvision imports torchvision, which cannot be
installed beside this project's torch), and a loader for its weight files that imports neither.

From torchxrayvision 1.5.7 (``torchxrayvision/models.py``: ``_DenseLayer``, ``_DenseBlock``,
``_Transition``, ``DenseNet``, ``op_norm`` and the ``model_urls`` of the DenseNet weights), Copyright
Joseph Paul Cohen, Apache License 2.0 (https://github.com/mlmed/torchxrayvision/blob/main/LICENSE).
Module names and shapes are the library's, so its state dicts load strictly. Input: (N, 1, 224, 224)
scaled to [-1024, 1024] (``xrv.utils.normalize``); output: one logit per pathology of ``PATHOLOGIES``.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

#: torchxrayvision's 18 outputs, in order (``xrv.datasets.default_pathologies``).
PATHOLOGIES = (
    "Atelectasis", "Consolidation", "Infiltration", "Pneumothorax", "Edema", "Emphysema", "Fibrosis",
    "Effusion", "Pneumonia", "Pleural_Thickening", "Cardiomegaly", "Nodule", "Mass", "Hernia",
    "Lung Lesion", "Fracture", "Lung Opacity", "Enlarged Cardiomediastinum",
)  # fmt: skip
PNEUMONIA = PATHOLOGIES.index("Pneumonia")
RELEASES = "https://github.com/mlmed/torchxrayvision/releases/download/v1/"
#: The library's DenseNet weights with a pneumonia output: name -> (file under RELEASES, the pneumonia
#: operating-point threshold ``op_threshs[8]`` that its forward maps to 0.5).
MODELS = {
    "densenet121-res224-all": (
        "nih-pc-chex-mimic_ch-google-openi-kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt",
        0.056810737,
    ),
    "densenet121-res224-nih": ("nih-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt", 0.0037213727),
    "densenet121-res224-pc": ("pc-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt", 0.044385884),
    "densenet121-res224-chex": ("chex-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt", 0.07749717),
    "densenet121-res224-rsna": ("kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt", 0.13486601),
    "densenet121-res224-mimic_nb": (
        "mimic_nb-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt",
        0.022924708,
    ),
    "densenet121-res224-mimic_ch": (
        "mimic_ch-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt",
        0.037242252,
    ),
}
INPUT_SIZE = 224
SCALING = (-1024.0, 1024.0)


class _DenseLayer(nn.Sequential):
    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int) -> None:
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(num_input_features))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(num_input_features, bn_size * growth_rate, 1, 1, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(bn_size * growth_rate))
        self.add_module("relu2", nn.ReLU(inplace=True))
        self.add_module("conv2", nn.Conv2d(bn_size * growth_rate, growth_rate, 3, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, super().forward(x)], 1)  # drop_rate 0, as every released model


class _DenseBlock(nn.Sequential):
    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int) -> None:
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size)
            self.add_module(f"denselayer{i + 1}", layer)


class _Transition(nn.Sequential):
    def __init__(self, num_input_features: int, num_output_features: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(num_input_features))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(num_input_features, num_output_features, 1, 1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    """torchxrayvision's ``DenseNet`` (DenseNet-121: growth 32, blocks 6-12-24-16, 64 initial features,
    1 input channel, 18 outputs); returns the logits, without the library's ``op_norm``."""

    def __init__(self, block_config=(6, 12, 24, 16), growth_rate: int = 32, num_init_features: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    (
                        "conv0",
                        nn.Conv2d(1, num_init_features, kernel_size=7, stride=2, padding=3, bias=False),
                    ),
                    ("norm0", nn.BatchNorm2d(num_init_features)),
                    ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
                ]
            )
        )
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, num_features, bn_size=4, growth_rate=growth_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, len(PATHOLOGIES))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(F.relu(self.features(x)), (1, 1)).flatten(1)
        return self.classifier(out)


def op_norm(probability: torch.Tensor, threshold: float) -> torch.Tensor:
    """torchxrayvision's ``op_norm`` for one output: maps ``threshold`` to 0.5, linearly on each side."""
    below = probability / (threshold * 2)
    above = 1 - ((1 - probability) / ((1 - threshold) * 2))
    return torch.where(probability < threshold, below, above)


class _Stub:
    """Stands in for a pickled module class: keeps its attributes, runs none of its code."""

    def __setstate__(self, state) -> None:
        self.__dict__.update(state if isinstance(state, dict) else {})


_TENSOR_REBUILDS = {"_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state"}


class _ModelUnpickler(pickle.Unpickler):
    """Unpickles a whole-model file (``torch.save(model)``, as the library's releases are): tensors,
    storages and ordered dicts as themselves, every ``torch.nn`` / ``torchxrayvision`` / ``torchvision``
    class as a ``_Stub``; any other global is refused, so no code from the file runs."""

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset"):
            return {"set": set, "frozenset": frozenset}[name]
        if module == "torch._utils" and name in _TENSOR_REBUILDS:
            return getattr(torch._utils, name)
        if module == "torch" and name.endswith("Storage"):
            return getattr(torch, name)
        if module.split(".")[0] in ("torchxrayvision", "torchvision") or module.startswith(
            "torch.nn.modules"
        ):
            return _Stub
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


_PICKLE_MODULE = ModuleType("xrv_model_pickle")
_PICKLE_MODULE.Unpickler = _ModelUnpickler
_PICKLE_MODULE.load = lambda file, **kwargs: _ModelUnpickler(file, **kwargs).load()


def _state_of(stub: _Stub, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict of an unpickled module tree: ``_parameters`` and ``_buffers`` by dotted name."""
    state = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (getattr(stub, group, None) or {}).items():
            if value is not None:
                state[prefix + name] = value.detach() if isinstance(value, torch.Tensor) else value
    for name, child in (getattr(stub, "_modules", None) or {}).items():
        state.update(_state_of(child, f"{prefix}{name}."))
    return state


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path``: a plain state dict (``torch.save(model.state_dict())``), read with
    ``weights_only``, or a whole pickled model as the library releases them, read by ``_ModelUnpickler``.

    Raises ValueError naming the file when neither reads.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not a plain state dict: try the library's whole-model pickle
        try:
            payload = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_PICKLE_MODULE)
        except Exception as error:
            raise ValueError(
                f"Could not read {path} as torchxrayvision DenseNet weights ({type(error).__name__}: "
                f"{error}). Give one of the library's release files ({RELEASES}<file>) or a state dict."
            ) from error
    state = _state_of(payload) if isinstance(payload, _Stub) else payload
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"Expected {path} to hold torchxrayvision DenseNet weights, got {type(payload).__name__}."
        )
    return state


def load_densenet(path: Path) -> DenseNet:
    """The DenseNet of ``path`` in eval mode (its ``op_threshs`` buffer, if any, is not part of it)."""
    state = {k: v for k, v in read_weights(path).items() if k != "op_threshs"}
    model = DenseNet()
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if "\n" in str(error) else str(error)
        raise ValueError(f"{path} does not fit torchxrayvision's DenseNet-121 ({first}).") from error
    return model.eval()
