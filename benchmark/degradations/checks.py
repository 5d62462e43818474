"""Input validation and output finishing shared by every degradation scenario.

Bad images raise ``ValueError`` (a caller bug); bad scenario parameters raise ``ParameterError``
(a ``ValueError`` subclass) so that :func:`benchmark.degradations.degrade` can turn them into a
``UserError`` naming the scenario.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cxr_kernel.errors import UserValueError

SCALES = (2, 4, 8)


class ParameterError(ValueError):
    """A scenario parameter has a bad value; the message says which one and how to fix it."""


def check_hr(hr: np.ndarray, scale: int) -> np.ndarray:
    """Return ``hr`` as float32 after checking it is a 2-D float image in [0, 1] divisible by ``scale``.

    Parameters
    ----------
    hr : (H, W) floating array in [0, 1].
    scale : one of 2, 4, 8.
    """
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or int(scale) not in SCALES:
        raise UserValueError(f"Expected scale in {SCALES}, got {scale!r}. Pass one of {SCALES}.")
    if not isinstance(hr, np.ndarray) or hr.ndim != 2:
        shape = getattr(hr, "shape", type(hr).__name__)
        raise UserValueError(
            f"Expected a 2-D (H, W) grayscale array, got shape {shape}. "
            "Pass one image at a time; convert RGB to grayscale first."
        )
    if not np.issubdtype(hr.dtype, np.floating):
        raise UserValueError(
            f"Expected a float image in [0, 1], got dtype {hr.dtype}. "
            "Convert with hr.astype(np.float32) / 255 (8-bit) or / 65535 (16-bit)."
        )
    height, width = hr.shape
    if height % scale or width % scale:
        raise UserValueError(
            f"Expected H and W divisible by scale {scale}, got {height}x{width}. "
            f"Crop to {height - height % scale}x{width - width % scale} first."
        )
    if hr.size == 0 or not np.isfinite(hr).all() or hr.min() < 0 or hr.max() > 1:
        low, high = (float(hr.min()), float(hr.max())) if hr.size else (None, None)
        raise UserValueError(
            f"Expected finite values in [0, 1], got range [{low}, {high}]. "
            "Rescale to [0, 1] (and replace NaN/inf) before degrading."
        )
    return hr.astype(np.float32, copy=False)


def finish(lr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Clip to [0, 1] and cast to float32, checking the pipeline produced exactly ``shape``."""
    if lr.shape != shape:
        raise RuntimeError(f"Degradation produced {lr.shape}, expected {shape}; this is a bug.")
    return np.clip(lr, 0.0, 1.0).astype(np.float32, copy=False)


def check_probability(name: str, value: float) -> float:
    """Return ``value`` as float after checking 0 <= value <= 1."""
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise ParameterError(f"Expected {name} a probability in [0, 1], got {value!r}. Pass e.g. 0.5.")
    return float(value)


def check_number(name: str, value: float, low: float, high: float) -> float:
    """Return ``value`` as float after checking low <= value <= high."""
    if not _is_number(value) or not low <= value <= high:
        raise ParameterError(f"Expected {name} a number in [{low}, {high}], got {value!r}.")
    return float(value)


def check_range(name: str, value: Sequence[float], low: float, high: float) -> tuple[float, float]:
    """Return a ``(lo, hi)`` range after checking low <= lo <= hi <= high (lo == hi fixes the value)."""
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) != 2
        or not all(_is_number(v) for v in value)
    ):
        raise ParameterError(f"Expected {name} a pair [lo, hi], got {value!r}. Pass e.g. [{low}, {high}].")
    lo, hi = float(value[0]), float(value[1])
    if not low <= lo <= hi <= high:
        raise ParameterError(
            f"Expected {name} with {low} <= lo <= hi <= {high}, got {list(value)}. "
            "Order the pair and keep it inside the bounds (lo == hi fixes the value)."
        )
    return lo, hi


def check_distribution(name: str, value: Sequence[float], size: int) -> np.ndarray:
    """Return ``size`` non-negative weights summing to 1 (within 1e-6) as a float64 array."""
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sequence)
        or len(value) != size
        or not all(_is_number(v) and v >= 0 for v in value)
        or abs(sum(value) - 1.0) > 1e-6
    ):
        raise ParameterError(
            f"Expected {name} {size} non-negative probabilities summing to 1, got {value!r}."
        )
    return np.asarray(value, dtype=np.float64)


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``."""
    if value not in choices:
        raise ParameterError(f"Expected {name} one of {list(choices)}, got {value!r}.")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
