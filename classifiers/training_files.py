"""Files of a training, whatever the framework: its fingerprint (stored in its checkpoints, so another
training's are refused) and where its per-epoch history goes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def fingerprint(arrays: list[np.ndarray | None], settings: dict[str, Any]) -> str:
    """sha256 of the training's inputs (arrays' dtype, shape and bytes) and settings (as JSON)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for array in arrays:
        if array is None:
            digest.update(b"none")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def history_path(model_path: Path) -> Path:
    """Where a training saving ``model_path`` writes its per-epoch metrics: ``<stem>.history.csv``."""
    return Path(model_path).with_suffix(".history.csv")


def best_validation_auroc(history: pd.DataFrame) -> float | None:
    """Validation AUROC at the kept epoch (the lowest validation loss) of a per-epoch history; None
    when the history records no validation loss or AUROC (``val_auc``, or ``val_auroc``)."""
    auc = next((c for c in ("val_auc", "val_auroc") if c in history.columns), None)
    if auc is None or "val_loss" not in history.columns or history["val_loss"].isna().all():
        return None
    return float(history.loc[history["val_loss"].idxmin(), auc])
