"""VGG19 feature extractor for perceptual losses, built without torchvision.

The ``features`` stack is laid out exactly like ``torchvision.models.vgg19().features`` (same
module indices), so a torchvision-format state dict (``features.0.weight`` ... ``features.34.bias``;
``classifier.*`` keys are ignored) loads strictly. Hand-written because torchvision is not a
dependency of this project and only the convolutional stack is needed.

Layer names follow BasicSR (``conv1_1``, ``relu1_1``, ``pool1`` ...): a ``convX_Y`` feature is the
convolution output BEFORE its ReLU (the ESRGAN convention), ``reluX_Y`` is after it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from cxr_kernel.errors import UserFileNotFound, UserValueError

# torchvision's "E" configuration: channel counts, "M" = 2x2 max pool.
_VGG19_CFG: tuple[int | str, ...] = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    block, conv = 1, 1
    for item in _VGG19_CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return tuple(names)


VGG19_LAYER_NAMES: tuple[str, ...] = _layer_names()


def vgg19_features() -> nn.Sequential:
    """Return an untrained VGG19 ``features`` stack with torchvision's module indices (0..36)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for item in _VGG19_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(item), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_ch = int(item)
    return nn.Sequential(*layers)


def load_vgg19_features(weights_path: Path) -> nn.Sequential:
    """Build the VGG19 ``features`` stack and load a torchvision-format state dict into it strictly.

    Raises
    ------
    FileNotFoundError
        If ``weights_path`` does not exist.
    ValueError
        If the file's ``features.*`` keys or shapes do not match VGG19.
    """
    path = Path(weights_path)
    if not path.is_file():
        raise UserFileNotFound(
            f"Expected a torchvision-format VGG19 state dict at {path}, but no such file exists. "
            f"Download vgg19-dcbb9e9d.pth from {VGG19_URL} and pass its path."
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise UserValueError(f"Expected {path} to hold a state dict, got {type(state).__name__}.")
    prefix = "features."
    features_state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    features = vgg19_features()
    expected = features.state_dict()
    problems = {
        "missing keys": expected.keys() - features_state.keys(),
        "unexpected keys": features_state.keys() - expected.keys(),
        "wrong shapes at": {
            k for k in expected.keys() & features_state.keys() if expected[k].shape != features_state[k].shape
        },
    }
    if any(problems.values()):
        found = "; ".join(
            f"{what} {sorted(prefix + k for k in keys)[:4]}" for what, keys in problems.items() if keys
        )
        raise UserValueError(
            f"Expected {path} to be a torchvision VGG19 state dict (keys features.0.weight ... "
            f"features.34.bias), got {found}. Use vgg19-dcbb9e9d.pth from {VGG19_URL}."
        )
    features.load_state_dict(features_state, strict=True)
    return features


class VGGFeatureExtractor(nn.Module):
    """Frozen VGG19 returning named intermediate features.

    Parameters
    ----------
    layer_weights
        Layers to return, e.g. ``{"conv5_4": 1.0}`` (only the keys are used here).
    weights_path
        Local torchvision-format VGG19 state dict (``vgg19-dcbb9e9d.pth``).
    use_input_norm
        Normalise inputs with the ImageNet mean/std (inputs must then be in [0, 1]).
    range_norm
        Map inputs from [-1, 1] to [0, 1] first.

    Forward takes ``(N, C, H, W)`` with C = 3, or C = 1 (grayscale, replicated to 3 channels) and
    returns ``{name: (N, C_l, H_l, W_l)}``.
    """

    def __init__(
        self,
        layer_weights: dict[str, float],
        weights_path: Path,
        use_input_norm: bool = True,
        range_norm: bool = False,
    ) -> None:
        super().__init__()
        unknown = sorted(set(layer_weights) - set(VGG19_LAYER_NAMES))
        if not layer_weights or unknown:
            raise ValueError(
                f"Expected VGG19 layer names such as 'conv5_4' or 'relu2_2', got {sorted(layer_weights)}. "
                f"Valid names: {', '.join(VGG19_LAYER_NAMES)}."
            )
        self.layer_names = tuple(layer_weights)
        last = max(VGG19_LAYER_NAMES.index(name) for name in self.layer_names)
        # Only the layers up to the deepest requested one are kept: less memory and compute.
        self.features = load_vgg19_features(weights_path)[: last + 1]
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"Expected a (N, 1 or 3, H, W) tensor, got shape {tuple(x.shape)}.")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for name, layer in zip(VGG19_LAYER_NAMES, self.features, strict=False):
            x = layer(x)
            if name in self.layer_names:
                out[name] = x
        return out
