"""Generator architectures register themselves, as BasicSR's ``@ARCH_REGISTRY.register()``.

A generator class carries, at its definition::

    @register_arch(signature="body.0.weight", models={"realesrgan-compact": {4: "realesr-general-x4v3.pth"}})
    class SRVGGNetCompact(nn.Module):
        @classmethod
        def options_from_state_dict(cls, state_dict, scale): ...  # constructor keywords read from shapes

- ``signature``: a state-dict key only this architecture has (to suggest the right model name when a
  file does not fit another one);
- ``models``: the zoo's model names whose official weights use it, with example file names by scale
  (``sr_models.zoo`` loads them; ``sr_models.MODELS`` lists them);
- ``also_loaded_by``: model names of another architecture that accept this layout too (``srgan``
  loads leftthomas/SRGAN's files);
- ``options_from_state_dict``: the hyper-parameters read back from the tensor shapes, so official
  files without an arch description load with ``strict=True``; the decorator adds
  ``from_state_dict(state_dict, scale)``, the network built from them.

``sr_models.archs`` imports every module of its folder (helpers excepted), so a new architecture is
one file there plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cxr_kernel.errors import UserValueError

#: architecture name (its class name) -> class, in registration order.
ARCH_REGISTRY: dict[str, type] = {}
# model name -> (architecture, example weight files by scale), in registration order.
_MODELS: dict[str, tuple[str, dict[int, str]]] = {}
# model name -> further architectures it loads.
_ALSO_LOADS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Family:
    """A model name's official architecture, example weight files by scale, other layouts it loads."""

    arch_type: str
    files: dict[int, str] = field(default_factory=dict)
    also_loads: tuple[str, ...] = ()


def register_arch(
    *,
    signature: str,
    models: Mapping[str, Mapping[int, str]] | None = None,
    also_loaded_by: tuple[str, ...] = (),
) -> Callable[[type], type]:
    """Class decorator: register a generator architecture under its class name (see the module doc)."""

    def register(cls: type) -> type:
        name = cls.__name__
        known = ARCH_REGISTRY.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(
                f"Architecture {name!r} is defined twice: {known.__module__} and {cls.__module__}."
            )
        if not callable(getattr(cls, "options_from_state_dict", None)):
            raise TypeError(
                f"Expected {name} to define classmethod options_from_state_dict(state_dict, scale)."
            )
        for model in models or {}:
            owner = _MODELS.get(model, (name,))[0]
            if owner != name:
                raise ValueError(f"Model {model!r} is claimed by both {owner} and {name}.")
        cls.signature = signature
        cls.from_state_dict = classmethod(_from_state_dict)
        ARCH_REGISTRY[name] = cls
        _MODELS.update({model: (name, dict(files)) for model, files in (models or {}).items()})
        for model in also_loaded_by:
            _ALSO_LOADS[model] = tuple(dict.fromkeys((*_ALSO_LOADS.get(model, ()), name)))
        return cls

    return register


def _from_state_dict(cls: type, state_dict: Mapping[str, Any], scale: int):
    """The network whose constructor keywords are read from ``state_dict``'s shapes (not loaded)."""
    return cls(**cls.options_from_state_dict(state_dict, scale))


def model_families() -> dict[str, Family]:
    """model name -> ``Family``, from the registered architectures."""
    return {
        model: Family(arch, files, _ALSO_LOADS.get(model, ())) for model, (arch, files) in _MODELS.items()
    }


def guess_arch_type(state_dict: Mapping[str, Any]) -> str | None:
    """Name of the registered architecture whose signature key ``state_dict`` has, else None."""
    return next((name for name, cls in ARCH_REGISTRY.items() if cls.signature in state_dict), None)


def infer_arch(arch_type: str, state_dict: Mapping[str, Any], scale: int) -> dict[str, Any]:
    """Arch dict ``{"type": arch_type, ...}`` matching ``state_dict``'s shapes.

    Only the keywords that could be read are given; missing keys leave the constructor defaults, so
    the later strict load reports the mismatch. ``scale`` is used only where the shapes cannot tell.
    """
    if arch_type not in ARCH_REGISTRY:
        raise UserValueError(f"Expected arch type in {sorted(ARCH_REGISTRY)}, got {arch_type!r}.")
    return {"type": arch_type, **ARCH_REGISTRY[arch_type].options_from_state_dict(state_dict, scale)}
