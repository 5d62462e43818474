"""Read an architecture's hyper-parameters back from the tensor shapes of its state dict.

Official files carry no arch description, yet e.g. ``RealESRGAN_x4plus_anime_6B.pth`` has 6 blocks
and ``RealESRGAN_x2plus.pth`` a 12-channel first conv; reading shapes lets one family name cover
them all while loading stays ``strict=True`` (a wrong guess fails loudly there).

Two layouts are read without ``conv_first``/``conv_last``: Real-ESRGAN's ``SRVGGNetCompact``
(``body.{i}`` convs and PReLUs) and leftthomas's SRGAN generator (``block1`` ... ``block{B+3}``).
"""

from __future__ import annotations

import math
import re
from typing import Any

from torch import Tensor

_BODY_INDEX = re.compile(r"body\.(\d+)\.")
# Key that only one arch has; used to suggest the right model when a file does not fit.
_SIGNATURES = {
    "RRDBNet": "body.0.rdb1.conv1.weight",
    "MSRResNet": "upconv1.weight",
    "SRResNet": "bn_body.weight",
    "SRVGGNetCompact": "body.0.weight",
    "LeftthomasSRGAN": "block1.0.weight",
}


def guess_arch_type(state_dict: dict[str, Tensor]) -> str | None:
    """Name of the arch in :data:`sr_models.archs.ARCHS` whose keys ``state_dict`` has, else None."""
    return next((name for name, key in _SIGNATURES.items() if key in state_dict), None)


def _num_block(state_dict: dict[str, Tensor]) -> int:
    return 1 + max((int(m.group(1)) for k in state_dict if (m := _BODY_INDEX.match(k))), default=-1)


def _shape(state_dict: dict[str, Tensor], key: str) -> tuple[int, ...] | None:
    value = state_dict.get(key)
    return tuple(value.shape) if value is not None else None


def infer_arch(arch_type: str, state_dict: dict[str, Tensor], scale: int) -> dict[str, Any]:
    """Arch dict ``{"type": arch_type, ...}`` matching ``state_dict``'s shapes.

    Parameters
    ----------
    arch_type : str
        "RRDBNet", "MSRResNet", "SRResNet", "SRVGGNetCompact" or "LeftthomasSRGAN".
    state_dict : dict
        BasicSR-named keys (see :mod:`sr_models.weights`), or the official keys of the last two.
    scale : int
        Used only where the shapes cannot tell (an RRDBNet whose in/out channel ratio is ambiguous,
        an SRVGGNetCompact whose last conv's channels are not ``num_in_ch`` times a square).

    Returns
    -------
    dict
        Only the keywords that could be read; missing keys leave the constructor defaults, so
        the later strict load reports the mismatch.
    """
    if arch_type == "SRVGGNetCompact":
        return _infer_srvgg(state_dict, scale)
    if arch_type == "LeftthomasSRGAN":
        return _infer_leftthomas(state_dict)
    arch: dict[str, Any] = {"type": arch_type}
    first, last = _shape(state_dict, "conv_first.weight"), _shape(state_dict, "conv_last.weight")
    if first is None or last is None:
        return arch
    arch.update(num_feat=first[0], num_block=_num_block(state_dict), num_out_ch=last[0])
    if arch_type == "RRDBNet":
        grow = _shape(state_dict, "body.0.rdb1.conv1.weight")
        if grow is not None:
            arch["num_grow_ch"] = grow[0]
        # conv_first sees num_in_ch * (4 // scale)**2 channels after pixel-unshuffle.
        ratio = {1: 4, 4: 2, 16: 1}.get(first[1] // last[0]) if first[1] % last[0] == 0 else None
        arch["scale"] = ratio or scale
        unshuffle = {4: 1, 2: 2, 1: 4}.get(arch["scale"], 1) ** 2
        arch["num_in_ch"] = max(first[1] // unshuffle, 1)
    elif arch_type == "MSRResNet":
        up1 = _shape(state_dict, "upconv1.weight")
        arch["num_in_ch"] = first[1]
        if "upconv2.weight" in state_dict:
            arch["upscale"] = 4
        elif up1 is not None:
            arch["upscale"] = math.isqrt(up1[0] // first[0])
    elif arch_type == "SRResNet":
        # upsample.{3i}.weight is the conv (4-D) of x2 step i; upsample.{3i+2}.weight its PReLU.
        steps = sum(
            1 for k, v in state_dict.items() if re.fullmatch(r"upsample\.\d+\.weight", k) and v.ndim == 4
        )
        arch.update(num_in_ch=first[1], scale=2**steps if steps else scale)
    return arch


def _infer_srvgg(state_dict: dict[str, Tensor], scale: int) -> dict[str, Any]:
    """SRVGGNetCompact: ``body`` alternates conv and activation, the last conv makes C * upscale**2.

    ReLU and LeakyReLU have no tensors, so without PReLU slopes ``act_type`` cannot be read and
    is left out: the strict load then names the missing ``body.1.weight``.
    """
    arch: dict[str, Any] = {"type": "SRVGGNetCompact"}
    convs = sorted(
        int(m.group(1))
        for key, value in state_dict.items()
        if (m := re.fullmatch(r"body\.(\d+)\.weight", key)) and value.ndim == 4
    )
    if len(convs) < 2:
        return arch
    first, last = state_dict[f"body.{convs[0]}.weight"].shape, state_dict[f"body.{convs[-1]}.weight"].shape
    channels = first[1]
    upscale = math.isqrt(last[0] // channels) if last[0] % channels == 0 else 0
    arch.update(num_in_ch=channels, num_out_ch=channels, num_feat=first[0], num_conv=len(convs) - 2)
    arch["upscale"] = upscale if upscale**2 * channels == last[0] else scale
    if "body.1.weight" in state_dict:
        arch["act_type"] = "prelu"
    return arch


def _infer_leftthomas(state_dict: dict[str, Tensor]) -> dict[str, Any]:
    """leftthomas SRGAN: residual blocks have ``conv1``; the last block holds the upsample steps."""
    arch: dict[str, Any] = {"type": "LeftthomasSRGAN"}
    first = _shape(state_dict, "block1.0.weight")
    if first is None:
        return arch
    num_block = sum(1 for key in state_dict if re.fullmatch(r"block\d+\.conv1\.weight", key))
    tail, upsampler = f"block{num_block + 2}", f"block{num_block + 3}"
    steps = sum(1 for key in state_dict if re.fullmatch(rf"{upsampler}\.\d+\.conv\.weight", key))
    last = _shape(state_dict, f"{upsampler}.{steps}.weight")
    arch.update(num_in_ch=first[1], num_feat=first[0], num_block=num_block, scale=2**steps)
    arch["tail"] = "bn" if f"{tail}.1.running_mean" in state_dict else "prelu"
    if last is not None:
        arch["num_out_ch"] = last[0]
    return arch
