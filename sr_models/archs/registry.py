"""Generator architectures register themselves, as BasicSR's ``@ARCH_REGISTRY.register()``.

A generator class carries, at its definition::

    @register_arch(signature="body.0.weight")
    class SRVGGNetCompact(nn.Module):
        @classmethod
        def options_from_state_dict(cls, state_dict, scale): ...  # constructor keywords read from shapes

- ``signature``: a state-dict key only this architecture has (to suggest the right model name when a
  file does not fit another one);
- ``options_from_state_dict``: the hyper-parameters read back from the tensor shapes, so official
  files without an arch description load with ``strict=True``; the decorator adds
  ``from_state_dict(state_dict, scale)``, the network built from them.

The model names whose official weights use an architecture are lines of ``sr_models.MODELS`` (read
without importing torch). ``sr_models.archs`` imports every module of its folder (helpers excepted), so
a new architecture is one file there, a line in ``MODELS`` per model, plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cxr_kernel.registry import Registry

#: architecture name (its class name) -> class, in registration order.
ARCHS = Registry("SR architecture")


def register_arch(*, signature: str) -> Callable[[type], type]:
    """Class decorator: register a generator architecture under its class name (see the module doc)."""

    def register(cls: type) -> type:
        if not callable(getattr(cls, "options_from_state_dict", None)):
            raise TypeError(
                f"Expected {cls.__name__} to define classmethod options_from_state_dict(state_dict, scale)."
            )
        ARCHS.register(cls.__name__, cls)
        cls.signature = signature
        cls.from_state_dict = classmethod(_from_state_dict)
        return cls

    return register


def _from_state_dict(cls: type, state_dict: Mapping[str, Any], scale: int):
    """The network whose constructor keywords are read from ``state_dict``'s shapes (not loaded)."""
    return cls(**cls.options_from_state_dict(state_dict, scale))


def guess_arch_type(state_dict: Mapping[str, Any]) -> str | None:
    """Name of the registered architecture whose signature key ``state_dict`` has, else None."""
    return next((name for name, cls in ARCHS.items() if cls.signature in state_dict), None)


def infer_arch(arch_type: str, state_dict: Mapping[str, Any], scale: int) -> dict[str, Any]:
    """Arch dict ``{"type": arch_type, ...}`` matching ``state_dict``'s shapes.

    Only the keywords that could be read are given; missing keys leave the constructor defaults, so
    the later strict load reports the mismatch. ``scale`` is used only where the shapes cannot tell.
    """
    return {"type": arch_type, **ARCHS.get(arch_type).options_from_state_dict(state_dict, scale)}
