"""How many decimals a column needs: enough that numbers which differ print differently.

A column starts at `decimals_for`'s three significant digits of its largest value and gains digits (at
most `MAX_EXTRA`) while two values that should be told apart still print alike: the estimates of the
variants of one cell, and each estimate with its own interval bounds. So AUROCs of 0.9962 and 0.9981 are
not both shown as "1.00", and a specificity of 1 with a lower bound of 0.9953 does not read as a
zero-width interval.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from reports.formatting import decimals_for, fmt_ci, is_missing

MAX_EXTRA = 2  # decimals added at most beyond three significant digits
MAX_DECIMALS = 6
ZERO_WIDTH = " (zero width)"  # appended to an interval whose bounds still print alike


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if not is_missing(v) and math.isfinite(float(v))]


def distinguishing_decimals(groups: Iterable[Sequence[Any]]) -> int:
    """Decimals at which the distinct values within each group print distinctly, within limits.

    Parameters
    ----------
    groups : iterable of sequences
        Values that a reader compares with each other (missing values are ignored).
    """
    groups = [_finite(g) for g in groups]
    base = decimals_for(v for g in groups for v in g)
    top = min(MAX_DECIMALS, base + MAX_EXTRA)
    for decimals in range(base, top + 1):
        if all(len({f"{v:.{decimals}f}" for v in g}) == len(set(g)) for g in groups):
            return decimals
    return top


def column_decimals(rows: Iterable[tuple[Any, Any, Any, Any]]) -> int:
    """Decimals for one column from its (group, estimate, low, high) rows: estimates of a group (a cell)
    must differ where they differ, and each estimate from its own bounds."""
    rows = list(rows)
    by_group: dict[Any, list[Any]] = {}
    for group, estimate, _, _ in rows:
        by_group.setdefault(group, []).append(estimate)
    return distinguishing_decimals([*by_group.values(), *([e, lo, hi] for _, e, lo, hi in rows)])


def fmt_interval(estimate: Any, low: Any, high: Any, decimals: int) -> str:
    """`fmt_ci`, saying so when a stored interval is zero-width at the shown precision."""
    text = fmt_ci(estimate, low, high, decimals)
    if is_missing(low) or is_missing(high):
        return text
    if f"{float(low):.{decimals}f}" == f"{float(high):.{decimals}f}":
        text += ZERO_WIDTH
    return text
