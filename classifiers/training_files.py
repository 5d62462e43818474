"""Files of a training, whatever the framework: its fingerprint (stored in its checkpoints, so another
training's are refused) and where its per-epoch history goes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np


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
