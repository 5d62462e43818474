"""Multiplicity correction of a family of p-values."""

from __future__ import annotations

import numpy as np


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values, in the input order.

    Hand-written (checked against statsmodels' ``multipletests(method="holm")`` in the tests) because
    statsmodels runs ``gc.collect()`` on every call: with PyTorch and TensorFlow loaded that took
    seconds per family, minutes per run.
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    stepped = (p.size - np.arange(p.size)) * p[order]
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(stepped))
    return adjusted
