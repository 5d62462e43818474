"""Learned SR models: weights file -> architecture -> strict load -> TorchUpscaler.

The architecture comes, in order of precedence, from the ``arch`` argument, the file's own
``"arch"`` entry (this project's checkpoints), or the model's official architecture with its
sizes read from the file's tensor shapes (:func:`sr_models.archs.infer.infer_arch`). A model may
accept further layouts, recognised by their keys: ``srgan`` also loads leftthomas/SRGAN's
generator files (``block1`` ... ``block8``, output ``(tanh + 1) / 2``).

The model names, their architectures and example files are lines of ``sr_models.MODELS``, whose
learned entries name ``load_learned``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cxr_kernel.errors import UserValueError
from sr_models import MODELS, learned_models
from sr_models.archs import build_arch
from sr_models.archs.registry import guess_arch_type, infer_arch
from sr_models.inference import TorchUpscaler
from sr_models.weights import add_missing_batch_counters, load_state_dict, where_to_get


def _models_for(arch_type: str | None) -> str:
    names = [
        name
        for name, learned in learned_models().items()
        if arch_type in (learned.arch_type, *learned.also_loads)
    ]
    if not names:
        return "It matches none of the known architectures; is it a generator state dict?"
    return f"The keys look like {arch_type} weights: use model {' or '.join(repr(n) for n in names)}."


def _missing_weights_message(model: str, scale: int) -> str:
    files = MODELS.info(model).files
    example = files.get(scale) or next(iter(files.values()), None)
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
    """Build learned model ``model``'s generator from ``weights`` (strict) as a TorchUpscaler.

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
    learned = MODELS.info(model)
    detected = guess_arch_type(state_dict)
    arch_type = detected if detected in learned.also_loads else learned.arch_type
    spec = arch or file_arch or infer_arch(arch_type, state_dict, scale)
    net = build_arch(spec)
    if net.scale != scale:
        official = learned.files.get(scale)
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
