"""Backend ``keras``: the reference CNN (trained by this suite) or any ``.keras``/``.h5`` classifier file,
through ``classifiers.inference.PneumoniaClassifier``; Grad-CAM on the last Conv2D layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from classifiers.interface import Classifier, InputSpec
from classifiers.recipe import REFERENCE_RECIPE


class KerasClassifier(Classifier):
    """A Keras model with one sigmoid output; input (N, h, w, C) in [0, 1], nearest-neighbour resize."""

    type = "keras"
    explains = "grad-cam"
    recipe: ClassVar = REFERENCE_RECIPE
    suffix: ClassVar[str] = ".keras"

    def __init__(self, path: Path) -> None:
        from classifiers.inference import load_classifier

        #: The wrapped ``PneumoniaClassifier`` (its ``.model`` is the Keras model).
        self.keras = load_classifier(path)
        spec = InputSpec(self.keras.input_size, channels=self.keras.channels, layout="NHWC")
        super().__init__(spec, [path])

    @classmethod
    def load(cls, path: Path, **options: Any) -> KerasClassifier:
        return cls(path)

    @classmethod
    def train(cls, images, labels, *, out_path: Path, options: dict[str, Any], **kwargs: Any) -> Path:
        """``classifiers.training.train_classifier``: the reference CNN at ``options["input_size"]``."""
        from classifiers.training import train_classifier

        kwargs.pop("threads", None)  # Keras keeps its own thread settings
        return train_classifier(images, labels, input_size=options["input_size"], out_path=out_path, **kwargs)

    def predict(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        return self.keras.predict(images, batch_size=batch_size)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.keras.model.predict_on_batch(x), dtype=np.float32)[:, 0]

    def _explain(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        from classifiers.gradcam import grad_cam_maps

        return grad_cam_maps(self.keras, images, batch_size=batch_size)
