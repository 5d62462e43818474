"""Pneumonia classifiers (Keras 3 on TensorFlow or PyTorch): build, train, load, predict, Grad-CAM.

Knows nothing about super-resolution. Images cross this package's boundary as NumPy float32
grayscale in [0, 1], shape (N, H, W). Importing ``classifiers`` is cheap: Keras and its backend are
imported (and configured, see ``classifiers.runtime``) on first access to a Keras-using name.
"""

from __future__ import annotations

import importlib
from typing import Any

from classifiers.recipe import REFERENCE_RECIPE, TrainingRecipe

_LAZY = {
    "build_reference_cnn": "classifiers.model",
    "train_classifier": "classifiers.training",
    "history_path": "classifiers.training_files",
    "PneumoniaClassifier": "classifiers.inference",
    "load_classifier": "classifiers.inference",
    "grad_cam": "classifiers.gradcam",
    "configure_backend": "classifiers.runtime",
}

__all__ = ["REFERENCE_RECIPE", "TrainingRecipe", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
