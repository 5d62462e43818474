"""Lazy name -> object tables (one line per entry), so no framework is imported until it is used."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping

from cxr_kernel.errors import UserError


class Registry:
    """Maps public names to ``"module:attribute"`` targets, imported on first use.

    Examples
    --------
    >>> table = Registry("degradation", {"bicubic": "benchmark.degradations.resize:degrade_bicubic"})
    >>> table.names()
    ['bicubic']
    """

    def __init__(
        self, kind: str, entries: Mapping[str, str], more: Callable[[], Mapping[str, str]] | None = None
    ):
        """``more``, if given, returns further entries; it is called (once) only when a name is not among
        ``entries`` or all names are asked for, so what it imports is imported only then."""
        self.kind = kind
        self._fixed = dict(entries)
        self._more = more
        self._all: dict[str, str] | None = None if more else self._fixed

    @property
    def _entries(self) -> dict[str, str]:
        if self._all is None:
            self._all = {**self._fixed, **self._more()}
        return self._all

    def register(self, name: str, target: str) -> None:
        """Add ``name`` -> ``"module:attribute"`` (imported on first ``get``); a name taken is refused."""
        if name in self._fixed or (self._all is not None and name in self._all):
            raise ValueError(f"{self.kind} {name!r} is registered twice; rename one of them.")
        self._fixed[name] = target
        if self._all is not None and self._all is not self._fixed:
            self._all[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._fixed or name in self._entries

    def check(self, name: str) -> str:
        """Return ``name`` if registered, else raise a ``UserError`` suggesting the closest names."""
        if name in self._fixed or name in self._entries:
            return name
        close = difflib.get_close_matches(name, self._entries, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UserError(f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}.")

    def get(self, name: str):
        """Import and return the object registered under ``name``."""
        name = self.check(name)
        module_name, attribute = (self._fixed.get(name) or self._entries[name]).split(":")
        return getattr(importlib.import_module(module_name), attribute)
