"""How anyone reads image files for a shipped classifier, without this project's preprocessing.

A shipped classifier's test figures come from here (``ship-classifier``): files are read with PIL
exactly as its sidecar's ``input_contract`` states (``convert(mode)``, nearest neighbour to the input
size, / 255), not by ``classifiers.preprocessing``, so a preprocessing bug shared by training and the
suite cannot hide in them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def read_file(path: Path, size: tuple[int, int], mode: str) -> np.ndarray:
    """One file as PIL ``convert(mode)`` ("RGB" or "L"), resized (nearest) to ``size`` = (height,
    width) when it differs, / 255: float32 (h, w, 3) for RGB, (h, w) for L, in [0, 1]."""
    with Image.open(path) as image:
        converted = image.convert(mode)
        if converted.size != (size[1], size[0]):
            converted = converted.resize((size[1], size[0]), Image.NEAREST)
        return np.asarray(converted, dtype=np.float32) / 255.0
