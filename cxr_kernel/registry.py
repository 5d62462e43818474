"""Lazy name -> object tables (one line per entry), so no framework is imported until it is used."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping

from cxr_kernel.errors import UserError


class Registry:
    """Maps public names to ``"module:attribute"`` targets, imported on first use.

    Examples
    --------
    >>> table = Registry("degradation", {"bicubic": "benchmark.degradations.resize:degrade_bicubic"})
    >>> table.names()
    ['bicubic']
    """

    def __init__(self, kind: str, entries: Mapping[str, str]):
        self.kind = kind
        self._entries = dict(entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def check(self, name: str) -> str:
        """Return ``name`` if registered, else raise a ``UserError`` suggesting the closest names."""
        if name in self._entries:
            return name
        close = difflib.get_close_matches(name, self._entries, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UserError(f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(self.names())}.")

    def get(self, name: str):
        """Import and return the object registered under ``name``."""
        module_name, attribute = self._entries[self.check(name)].split(":")
        return getattr(importlib.import_module(module_name), attribute)
