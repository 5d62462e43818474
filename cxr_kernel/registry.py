"""Name -> object tables: the one ``Registry`` of scenarios, metrics, SR models and architectures,
discriminators, training presets, statistical tests and classifier types.

An entry is either the object itself (``@TABLE.register("name")`` on its definition) or a lazy
``"module:attribute"`` target, imported on first ``get``: a table that must be read without importing
a framework (naming an SR model or a classifier in a suite imports no torch) lists those, one line per
entry. An entry may carry ``info``: what is known of it without importing it (a metric's spec, the
architecture of a model's official weights).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator, Mapping
from typing import Any

from cxr_kernel.errors import UserValueError

_DECORATE = object()


def _where(target: object) -> str:
    """``"module:attribute"`` of an entry, as errors name it."""
    if isinstance(target, str):
        return target
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', repr(target))}"


class Registry:
    """Maps public names to objects, given directly or as ``"module:attribute"`` imported on first use.

    Iterating yields the names in registration order; ``names()`` sorts them.

    Examples
    --------
    >>> table = Registry("degradation", {"bicubic": "benchmark.degradations.standard:degrade_bicubic"})
    >>> @table.register("identity", info="returns its input")
    ... def identity(hr, scale, rng):
    ...     return hr
    >>> table.names(), table.info("identity")
    (['bicubic', 'identity'], 'returns its input')
    """

    def __init__(self, kind: str, entries: Mapping[str, object] | None = None):
        """``kind`` names an entry in messages (``Unknown degradation 'x'``); ``entries`` are registered
        in their order (``"module:attribute"`` strings or the objects themselves)."""
        self.kind = kind
        self._targets: dict[str, object] = {}
        self._info: dict[str, Any] = {}
        for name, target in (entries or {}).items():
            self.register(name, target)

    def register(self, name: str, target: object = _DECORATE, *, info: Any = None):
        """Add ``name``: ``register(name, "module:attribute")`` (imported on first ``get``),
        ``register(name, obj)``, or ``@register(name)`` on a definition (returned unchanged).

        ``info`` is kept beside the entry (``info(name)``). A name taken is refused (``ValueError``).
        """
        if target is _DECORATE:

            def decorate(definition):
                self.register(name, definition, info=info)
                return definition

            return decorate
        if name in self._targets:
            raise ValueError(
                f"{self.kind} {name!r} is defined twice: {_where(self._targets[name])} and {_where(target)}. "
                "Rename one of them."
            )
        self._targets[name] = target
        if info is not None:
            self._info[name] = info

    def names(self) -> list[str]:
        """The names, sorted."""
        return sorted(self._targets)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._targets))

    def __len__(self) -> int:
        return len(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def check(self, name: str) -> str:
        """Return ``name`` if registered, else raise a ``UserValueError`` suggesting the closest names."""
        if name in self._targets:
            return name
        close = difflib.get_close_matches(name, self._targets, n=3) if isinstance(name, str) else []
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UserValueError(f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}.")

    def get(self, name: str):
        """The object registered under ``name`` (a lazy target is imported now)."""
        target = self._targets[self.check(name)]
        if not isinstance(target, str):
            return target
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def info(self, name: str) -> Any:
        """What was registered with ``name`` as ``info`` (None if nothing); imports nothing."""
        return self._info.get(self.check(name))

    def items(self) -> list[tuple[str, Any]]:
        """(name, object) pairs in registration order; imports every lazy target."""
        return [(name, self.get(name)) for name in self]
