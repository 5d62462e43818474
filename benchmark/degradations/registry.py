"""Degradation scenarios register themselves: ``@scenario("bicubic")`` on ``degrade_bicubic``.

``benchmark.degradations`` imports every module of its folder, so a new scenario is one function with
this decorator (in a new or an existing module there) plus its tests.
"""

from __future__ import annotations

from collections.abc import Callable

#: scenario name -> its function ``(hr, scale, rng, *, params...)``, in registration order.
SCENARIOS: dict[str, Callable] = {}


def scenario(name: str) -> Callable[[Callable], Callable]:
    """Decorator: register a degradation function under ``name`` (a suite's ``scenario:``)."""

    def register(function: Callable) -> Callable:
        known = SCENARIOS.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (
            function.__module__,
            function.__qualname__,
        ):
            raise ValueError(
                f"Degradation {name!r} is defined twice: {known.__module__} and {function.__module__}."
            )
        SCENARIOS[name] = function
        return function

    return register
