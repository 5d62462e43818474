"""Summary tables as JSON records at full float64 precision.

``DataFrame.to_json`` writes at most 10 decimals by default (15 at most with ``double_precision``), so
a p-value of 1.6e-11 became 0.0 in ``summary.json`` and every table exported from it.  Python's
``json`` writes ``repr(float)``, the shortest string that reads back as the same double, so records
built here round-trip exactly; NaN and infinities become ``null`` (strict JSON has neither).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def _plain(value):
    """A JSON-ready Python scalar: NumPy scalars unwrapped, non-finite floats as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def table_records(frame: pd.DataFrame) -> list[dict]:
    """Rows of ``frame`` as a list of dicts of plain Python values, floats unrounded.

    Parameters
    ----------
    frame : any summary table (columns of ``schema.TABLE_COLUMNS`` or others).

    Returns
    -------
    list of dict
        One dict per row, column order kept; ``json.dumps`` of it reads back to the same numbers.
    """
    return [{column: _plain(value) for column, value in row.items()} for row in frame.to_dict("records")]
