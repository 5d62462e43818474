"""Degradation scenarios: an HR image in, the LR image a scenario would produce out.

Every scenario is a plain function ``degrade_<name>(hr, scale, rng, *, params...)`` taking a (H, W)
float32 image in [0, 1] and returning the (H // scale, W // scale) float32 LR image in [0, 1], for
scale 2, 4 or 8. All randomness comes from ``rng``, so one image with one seed always degrades to the
same bytes (derive the generator per image, e.g. ``benchmark.seeding.item_rng``).

Examples
--------
>>> import numpy as np
>>> hr = np.full((32, 32), 0.5, dtype=np.float32)
>>> degrade("telemed", hr, 4, np.random.default_rng(0), {"quality_range": [60, 60]}).shape
(8, 8)
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmark.degradations.checks import ParameterError
from benchmark.degradations.registry import DEGRADATIONS as DEGRADATIONS
from cxr_kernel.errors import UserError

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # each scenario registers itself (registry.py)


def scenario_parameters(name: str) -> dict[str, Any]:
    """Keyword parameters of scenario ``name`` with their defaults (``UserError`` if unknown)."""
    parameters = inspect.signature(DEGRADATIONS.get(name)).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _check_names(name: str, params: Mapping[str, Any]) -> None:
    valid = scenario_parameters(name)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UserError(
            f"Unknown parameter(s) {unknown} for degradation {name!r}. "
            f"Valid: {', '.join(sorted(valid)) or 'none'}."
        )


def degrade(
    name: str,
    hr: np.ndarray,
    scale: int,
    rng: np.random.Generator,
    params: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Degrade one HR image with scenario ``name``.

    Parameters
    ----------
    name : a name of ``DEGRADATIONS``.
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : the image's own generator (all randomness comes from it).
    params : keyword parameters of the scenario (see :func:`scenario_parameters`).

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1].

    Raises
    ------
    UserError : unknown scenario, unknown parameter name or bad parameter value.
    ValueError : ``hr`` or ``scale`` not as described above.
    """
    function = DEGRADATIONS.get(name)
    params = dict(params or {})
    _check_names(name, params)
    try:
        return function(hr, scale, rng, **params)
    except ParameterError as error:
        raise UserError(f"Degradation {name!r}: {error}") from error


def check_params(name: str, params: Mapping[str, Any] | None = None) -> None:
    """Raise ``UserError`` unless ``params`` are valid names *and* values for scenario ``name``.

    Values are checked by degrading a flat 16x16 image once, so this check cannot drift from the
    scenario's own validation (milliseconds, even for ``realesrgan``).
    """
    degrade(name, np.full((16, 16), 0.5, dtype=np.float32), 2, np.random.default_rng(0), params)
