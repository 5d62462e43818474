"""Learned SR model families: weights file -> architecture -> strict load -> TorchUpscaler.

The architecture comes, in order of precedence, from the ``arch`` argument, the file's own
``"arch"`` entry (this project's checkpoints), or the family's official architecture with its
sizes read from the file's tensor shapes (:func:`sr_models.archs.infer.infer_arch`). A family may
accept further layouts, recognised by their keys: ``srgan`` also loads leftthomas/SRGAN's
generator files (``block1`` ... ``block8``, output ``(tanh + 1) / 2``).

The model names and their architectures are declared by the architectures themselves
(``@register_arch(models=...)`` in ``sr_models/archs``).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from cxr_kernel.errors import UserValueError
from sr_models.archs import build_arch
from sr_models.archs.registry import Family, guess_arch_type, infer_arch, model_families
from sr_models.inference import TorchUpscaler
from sr_models.weights import add_missing_batch_counters, load_state_dict, where_to_get

#: model name -> its architecture and example files, as the architectures registered them.
FAMILIES: dict[str, Family] = model_families()


def __getattr__(name: str):
    """``zoo.esrgan``, ``zoo.realesrgan_compact``, ...: ``load_learned`` bound to that model name (the
    entries of ``sr_models.MODELS``)."""
    for model in FAMILIES:
        if model.replace("-", "_") == name:
            return partial(load_learned, model)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _models_for(arch_type: str | None) -> str:
    names = [name for name, family in FAMILIES.items() if arch_type in (family.arch_type, *family.also_loads)]
    if not names:
        return "It matches none of the known architectures; is it a generator state dict?"
    return f"The keys look like {arch_type} weights: use model {' or '.join(repr(n) for n in names)}."


def _missing_weights_message(model: str, scale: int) -> str:
    family = FAMILIES[model]
    example = family.files.get(scale) or next(iter(family.files.values()), None)
    if example is None:
        return (
            f"Expected weights for model {model!r}, got none; its authors released no PyTorch weights. "
            f"Give `train:` in the suite to train one, or `weights:` for a checkpoint you trained."
        )
    return (
        f"Expected weights for model {model!r}, got none. Give `weights: path/to/{example}` in the suite "
        f"(download from {where_to_get(example)}) or `train:` to train one."
    )


def load_learned(
    model: str,
    scale: int,
    weights: str | Path | None = None,
    *,
    device: str | None = None,
    tile: int | None = None,
    precision: str = "fp32",
    arch: dict[str, Any] | None = None,
    tile_overlap: int = 16,
    batch_size: int = 4,
) -> TorchUpscaler:
    """Build the ``model`` family's generator from ``weights`` (strict) as a TorchUpscaler.

    Raises
    ------
    ValueError
        No weights given; the file's scale differs from ``scale``; keys or shapes do not fit
        (the message lists some and suggests the model name the keys belong to).
    FileNotFoundError
        The weights file is missing (the message says where official files come from).
    """
    if weights is None:
        raise UserValueError(_missing_weights_message(model, scale))
    state_dict, file_arch = load_state_dict(weights)
    state_dict = add_missing_batch_counters(state_dict)
    family = FAMILIES[model]
    detected = guess_arch_type(state_dict)
    arch_type = detected if detected in family.also_loads else family.arch_type
    spec = arch or file_arch or infer_arch(arch_type, state_dict, scale)
    net = build_arch(spec)
    if net.scale != scale:
        official = family.files.get(scale)
        raise UserValueError(
            f"Expected a x{scale} model for {model!r}, got x{net.scale} weights in {weights}. Use x{scale} "
            f"weights{f' ({official})' if official else ''} or change the suite's scales."
        )
    expected, found = set(net.state_dict()), set(state_dict)
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        raise UserValueError(
            f"Expected {weights} to fit {spec}, got {len(missing)} missing keys {missing[:4]} and "
            f"{len(unexpected)} unexpected keys {unexpected[:4]}. {_models_for(detected)}"
        )
    try:
        net.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:  # same keys, different tensor shapes
        raise UserValueError(f"Expected {weights} to fit {spec}: {error}") from error
    return TorchUpscaler(
        net,
        scale,
        name=model,
        in_channels=net.num_in_ch,
        device=device,
        tile=tile,
        tile_overlap=tile_overlap,
        batch_size=batch_size,
        precision=precision,
    )
