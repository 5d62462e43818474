"""Generator architectures by name, and ``build_arch`` from a ``{"type": ..., **kwargs}`` dict."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from sr_models.archs.leftthomas_srgan import LeftthomasSRGAN
from sr_models.archs.rrdbnet import RRDBNet
from sr_models.archs.srresnet import MSRResNet, SRResNet
from sr_models.archs.srvgg import SRVGGNetCompact

ARCHS: dict[str, type[nn.Module]] = {
    "RRDBNet": RRDBNet,
    "MSRResNet": MSRResNet,
    "SRResNet": SRResNet,
    "SRVGGNetCompact": SRVGGNetCompact,
    "LeftthomasSRGAN": LeftthomasSRGAN,
}


def build_arch(arch: dict[str, Any]) -> nn.Module:
    """Instantiate ``ARCHS[arch["type"]](**rest)``.

    Raises
    ------
    ValueError
        If ``type`` is missing/unknown or a keyword is not accepted; the message lists valid ones.
    """
    if not isinstance(arch, dict) or "type" not in arch:
        raise ValueError(f"Expected an arch dict like {{'type': 'RRDBNet', 'scale': 4}}, got {arch!r}.")
    kwargs = dict(arch)
    name = kwargs.pop("type")
    if name not in ARCHS:
        raise ValueError(f"Expected arch type in {sorted(ARCHS)}, got {name!r}.")
    cls = ARCHS[name]
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise ValueError(f"Expected {name} arguments among {valid}, got unknown {unknown}. Remove them.")
    return cls(**kwargs)


__all__ = ["ARCHS", "LeftthomasSRGAN", "MSRResNet", "RRDBNet", "SRResNet", "SRVGGNetCompact", "build_arch"]
