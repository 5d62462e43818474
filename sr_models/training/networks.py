"""Building the networks and losses of a training run from its preset."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch import nn

from cxr_kernel.errors import UserValueError
from sr_models.archs import ARCHS
from sr_models.archs.discriminators import DISCRIMINATORS
from sr_models.archs.vgg import VGG19_URL, VGGFeatureExtractor
from sr_models.losses import PerceptualLoss
from sr_models.presets import TrainingPreset


def full_arch(arch: dict[str, Any], scale: int) -> dict[str, Any]:
    """Complete ``arch`` with ``scale`` (``upscale`` for MSRResNet) and every constructor default.

    The result is what ``save_weights`` records, so the file rebuilds the same network even if a
    default changes later.
    """
    if arch.get("type") not in ARCHS:
        raise UserValueError(f"Expected arch type in {sorted(ARCHS)}, got {arch.get('type')!r}.")
    parameters = inspect.signature(ARCHS[arch["type"]].__init__).parameters
    scale_key = "upscale" if "upscale" in parameters else "scale"
    defaults = {
        name: p.default for name, p in parameters.items() if name != "self" and p.default is not p.empty
    }
    return {
        "type": arch["type"],
        **defaults,
        **{k: v for k, v in arch.items() if k != "type"},
        scale_key: scale,
    }


def build_discriminator(preset: TrainingPreset, in_channels: int) -> nn.Module:
    """The preset's discriminator for ``in_channels``-channel HR patches of side ``preset.hr_patch``."""
    return DISCRIMINATORS[preset.discriminator].for_preset(preset, in_channels)


def build_perceptual(preset: TrainingPreset, vgg_weights: Path | None) -> PerceptualLoss | None:
    """The perceptual loss, None when ``perceptual_weight`` is 0.

    Raises
    ------
    ValueError
        If the preset needs VGG19 but ``vgg_weights`` is None: there is no silent fallback to a
        random VGG, whose features would make the loss meaningless.
    """
    if preset.perceptual_weight == 0:
        return None
    if vgg_weights is None:
        raise UserValueError(
            f"Expected vgg_weights for perceptual_weight={preset.perceptual_weight}, got None. "
            "The perceptual loss needs a local torchvision-format VGG19 state dict (vgg19-dcbb9e9d.pth from "
            f"{VGG19_URL}): pass `vgg_weights=` (or `vgg_weights:` in the config), or set "
            "perceptual_weight: 0 to train without the perceptual loss (stated fallback)."
        )
    extractor = VGGFeatureExtractor(preset.perceptual_layers, Path(vgg_weights))
    return PerceptualLoss(extractor, preset.perceptual_layers, preset.perceptual_criterion)
