"""Generator architectures by name, and ``build_arch`` from a ``{"type": ..., **kwargs}`` dict.

Each architecture registers itself (``@register_arch`` in ``sr_models.archs.registry``); every module
of this folder except the helpers in ``HELPER_MODULES`` is imported here, so a new architecture is one
file. Its class is then also an attribute of this package (``from sr_models.archs import RRDBNet``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from torch import nn

from cxr_kernel.errors import UserValueError
from sr_models.archs.registry import ARCHS

#: Modules that define no generator (building blocks, discriminators, the VGG feature network).
HELPER_MODULES = frozenset({"arch_util", "discriminators", "infer", "registry", "vgg"})

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in HELPER_MODULES:
        importlib.import_module(f"{__name__}.{_module.name}")


def __getattr__(name: str) -> type[nn.Module]:
    if name in ARCHS:
        return ARCHS.get(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_arch(arch: dict[str, Any]) -> nn.Module:
    """Instantiate ``ARCHS.get(arch["type"])(**rest)``.

    Raises
    ------
    ValueError
        If ``type`` is missing/unknown or a keyword is not accepted; the message lists valid ones.
    """
    if not isinstance(arch, dict) or "type" not in arch:
        raise UserValueError(f"Expected an arch dict like {{'type': 'RRDBNet', 'scale': 4}}, got {arch!r}.")
    kwargs = dict(arch)
    name = kwargs.pop("type")
    cls = ARCHS.get(name)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise UserValueError(f"Expected {name} arguments among {valid}, got unknown {unknown}. Remove them.")
    return cls(**kwargs)


__all__ = ["ARCHS", "build_arch", *ARCHS]
