"""Building the networks and losses of a training run from its preset."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from cxr_kernel.errors import UserValueError
from sr_models import learned_models
from sr_models.archs import ARCHS, build_arch
from sr_models.archs.registry import guess_arch_type, infer_arch
from sr_models.archs.vgg import VGG19_URL, VGGFeatureExtractor
from sr_models.losses import PerceptualLoss
from sr_models.presets import DISCRIMINATORS, TrainingPreset
from sr_models.weights import add_missing_batch_counters, load_state_dict


def full_arch(arch: dict[str, Any], scale: int) -> dict[str, Any]:
    """Complete ``arch`` with ``scale`` (``upscale`` for MSRResNet) and every constructor default.

    The result is what ``save_weights`` records, so the file rebuilds the same network even if a
    default changes later.
    """
    parameters = inspect.signature(ARCHS.get(arch.get("type")).__init__).parameters
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


def _arch_types(model: str) -> tuple[str, ...]:
    learned = learned_models()
    if model not in learned:
        raise UserValueError(f"Expected a learned SR model in {sorted(learned)}, got {model!r}.")
    return (learned[model].arch_type, *learned[model].also_loads)


def initial_generator(
    model: str, scale: int, preset: TrainingPreset, init_weights: Path | None
) -> tuple[dict[str, Any], dict[str, Tensor] | None]:
    """The complete generator arch of a training run and the state it starts from (None: random).

    The arch is the preset's when it has one (a config's ``arch`` replaces it), else the initial
    weights file's: its ``"arch"`` entry or, for official files, read from its tensor shapes as
    ``sr_models.zoo.load_learned`` does. It must be an architecture ``model`` loads, for ``scale``,
    and the file must fit it exactly (strict). Reads only the weights file: call before loading images.

    Raises
    ------
    ValueError
        Naming the model, arch, file or scale that does not fit.
    FileNotFoundError
        A missing weights file.
    """
    types = _arch_types(model)
    state, file_arch = (None, None)
    if init_weights is not None:
        state, file_arch = load_state_dict(init_weights)
        state = add_missing_batch_counters(state)
        detected = guess_arch_type(state)
        if detected is not None and detected not in types:
            loaders = [name for name, entry in learned_models().items() if detected == entry.arch_type]
            raise UserValueError(
                f"Expected weights of an architecture model {model!r} loads ({' or '.join(types)}), got "
                f"{detected} weights in {init_weights}. Use --model {' or '.join(loaders) or 'of that file'}."
            )
        arch_type = detected or types[0]
        file_arch = file_arch or infer_arch(arch_type, state, scale)
    arch = preset.arch if preset.arch is not None else file_arch
    if arch is None:
        raise UserValueError(
            f"Expected init_weights for preset family {preset.family!r}, which takes the architecture of "
            "the weights file it fine-tunes; got none. Pass --init-weights FILE, or a preset with an arch."
        )
    if arch.get("type") not in types:
        raise UserValueError(
            f"Expected an architecture model {model!r} loads ({' or '.join(types)}), got {arch.get('type')!r}"
            f"{f' from {init_weights}' if preset.arch is None else ' from the preset'}. Pick the model whose "
            "architecture this is, or another preset or arch."
        )
    file_scale = arch.get("upscale", arch.get("scale"))
    if init_weights is not None and file_scale not in (None, scale):
        raise UserValueError(
            f"Expected x{scale} weights for --scale {scale}, got x{file_scale} in {init_weights}."
        )
    arch = full_arch(arch, scale)
    if state is not None:
        net = build_arch(arch)
        expected, found = set(net.state_dict()), set(state)
        if expected != found:
            raise UserValueError(
                f"Expected {init_weights} to fit {arch}, got {len(expected - found)} missing keys "
                f"{sorted(expected - found)[:4]} and {len(found - expected)} unexpected keys "
                f"{sorted(found - expected)[:4]}. Use the preset's own arch (a fine-tune preset) or the "
                "matching model."
            )
        try:
            net.load_state_dict(state, strict=True)
        except RuntimeError as error:  # same keys, other shapes
            raise UserValueError(
                f"Expected {init_weights} to fit {arch}: {str(error).splitlines()[-1]}"
            ) from None
    return arch, state


def build_discriminator(preset: TrainingPreset, in_channels: int) -> nn.Module:
    """The preset's discriminator for ``in_channels``-channel HR patches of side ``preset.hr_patch``."""
    return DISCRIMINATORS.get(preset.discriminator).for_preset(preset, in_channels)


def build_perceptual(preset: TrainingPreset, vgg_weights: Path | None) -> PerceptualLoss | None:
    """The perceptual loss, None when no step uses it (``perceptual_weight`` 0 or no GAN step).

    Raises
    ------
    ValueError
        If the preset needs VGG19 but ``vgg_weights`` is None: there is no silent fallback to a
        random VGG, whose features would make the loss meaningless.
    """
    if not preset.needs_vgg:
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
