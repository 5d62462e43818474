"""Learned SR model families: weights file -> architecture -> strict load -> TorchUpscaler.

The architecture comes, in order of precedence, from the ``arch`` argument, the file's own
``"arch"`` entry (this project's checkpoints), or the family's official architecture with its
sizes read from the file's tensor shapes (:func:`sr_models.archs.infer.infer_arch`). A family may
accept further layouts, recognised by their keys: ``srgan`` also loads leftthomas/SRGAN's
generator files (``block1`` ... ``block8``, output ``(tanh + 1) / 2``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sr_models.archs import build_arch
from sr_models.archs.infer import guess_arch_type, infer_arch
from sr_models.inference import TorchUpscaler
from sr_models.weights import add_missing_batch_counters, load_state_dict, where_to_get


@dataclass(frozen=True)
class Family:
    """A model name's official architecture, example weight files by scale, other layouts it loads."""

    arch_type: str
    files: dict[int, str]
    also_loads: tuple[str, ...] = ()


FAMILIES = {
    "realesrgan": Family("RRDBNet", {4: "RealESRGAN_x4plus.pth", 2: "RealESRGAN_x2plus.pth"}),
    "realesrnet": Family("RRDBNet", {4: "RealESRNet_x4plus.pth"}),
    "esrgan": Family("RRDBNet", {4: "RRDB_ESRGAN_x4.pth"}),
    "msrresnet": Family("MSRResNet", {4: "MSRResNet_x4.pth"}),
    "srresnet": Family("SRResNet", {}),
    "srgan": Family("SRResNet", {}, also_loads=("LeftthomasSRGAN",)),
    "realesrgan-compact": Family("SRVGGNetCompact", {4: "realesr-general-x4v3.pth"}),
}


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
        raise ValueError(_missing_weights_message(model, scale))
    state_dict, file_arch = load_state_dict(weights)
    state_dict = add_missing_batch_counters(state_dict)
    family = FAMILIES[model]
    detected = guess_arch_type(state_dict)
    arch_type = detected if detected in family.also_loads else family.arch_type
    spec = arch or file_arch or infer_arch(arch_type, state_dict, scale)
    net = build_arch(spec)
    if net.scale != scale:
        official = family.files.get(scale)
        raise ValueError(
            f"Expected a x{scale} model for {model!r}, got x{net.scale} weights in {weights}. Use x{scale} "
            f"weights{f' ({official})' if official else ''} or change the suite's scales."
        )
    expected, found = set(net.state_dict()), set(state_dict)
    missing, unexpected = sorted(expected - found), sorted(found - expected)
    if missing or unexpected:
        raise ValueError(
            f"Expected {weights} to fit {spec}, got {len(missing)} missing keys {missing[:4]} and "
            f"{len(unexpected)} unexpected keys {unexpected[:4]}. {_models_for(detected)}"
        )
    try:
        net.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:  # same keys, different tensor shapes
        raise ValueError(f"Expected {weights} to fit {spec}: {error}") from error
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


realesrgan = partial(load_learned, "realesrgan")
realesrnet = partial(load_learned, "realesrnet")
esrgan = partial(load_learned, "esrgan")
msrresnet = partial(load_learned, "msrresnet")
srresnet = partial(load_learned, "srresnet")
srgan = partial(load_learned, "srgan")
realesrgan_compact = partial(load_learned, "realesrgan-compact")
