"""Multiplicity correction over families of p-values: Holm (family-wise) and Benjamini-Hochberg (FDR).

Both come from statsmodels' ``multipletests``.  Its Holm branch calls ``gc.collect()`` on every call
(statsmodels 0.14/0.15, ``stats/multitest.py``); with PyTorch and TensorFlow loaded a full collection
walks millions of objects, so ``adjust_families`` freezes the heap once (``gc.freeze``: existing
objects move to the permanent generation, which collections skip) for all families of a table, and
statsmodels' collection only sees the few objects made since.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

METHODS = {"holm": "holm", "bh": "fdr_bh"}


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects that exist now out of any garbage collection inside the block.

    If something else has already frozen the heap, it is left as it is (``gc.unfreeze`` would undo that
    freeze too).
    """
    owner = gc.get_freeze_count() == 0
    if owner:
        gc.freeze()
    try:
        yield
    finally:
        if owner:
            gc.unfreeze()


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Adjusted p-values of one family, in the input order (``method``: "holm" or "bh")."""
    if method not in METHODS:
        raise ValueError(f"Expected method in {sorted(METHODS)}, got {method!r}.")
    p_values = np.asarray(p_values, dtype=np.float64)
    if p_values.size == 0:
        return p_values
    return multipletests(p_values, method=METHODS[method])[1]


def adjust_families(tests: pd.DataFrame, family: list[str], columns: dict[str, str]) -> pd.DataFrame:
    """Fill each column of ``columns`` (``{column: method}``) with the adjusted ``p_value`` per family.

    ``family`` names the columns whose values define a family; rows with a NaN ``p_value`` (no test
    possible) stay NaN and are not counted in their family.
    """
    tests = tests.copy()
    for column in columns:
        tests[column] = np.nan
    with frozen_heap():
        for _, rows in tests.groupby(family, sort=False, dropna=False):
            valid = rows.index[rows["p_value"].notna()]
            for column, method in columns.items():
                tests.loc[valid, column] = adjust(tests.loc[valid, "p_value"].to_numpy(), method)
    return tests
