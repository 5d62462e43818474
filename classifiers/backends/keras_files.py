"""Backend ``keras``: the reference CNN (trained by this suite) or any ``.keras``/``.h5`` classifier file,
through ``classifiers.inference.PneumoniaClassifier``; Grad-CAM on the last Conv2D layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from classifiers.contract import read_file
from classifiers.interface import Classifier, InputSpec
from classifiers.recipe import REFERENCE_RECIPE

#: Input contract of a shipped keras classifier (the reference notebook's ``flow_from_directory``).
INPUT_CONTRACT = {
    "color": "RGB",
    "resize": "nearest neighbour to the model's input size",
    "scale": "pixel values / 255, float32 in [0, 1]",
    "output": "P(pneumonia), one sigmoid unit",
}


def load_safe(path: Path):
    """The Keras model in ``path``, loaded uncompiled in safe mode (no code in the file runs)."""
    from classifiers.runtime import keras

    return keras.models.load_model(path, compile=False, safe_mode=True)


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

    @classmethod
    def ship(cls, source: Path, destination: Path) -> dict[str, Any]:
        """Write ``source``'s model to ``destination`` uncompiled (no optimizer state: a third of the
        size); its record for the sidecar (files, parameters, input shape, input contract)."""
        from cxr_kernel.atomic import atomic_path

        model = load_safe(source)
        with atomic_path(destination) as temporary:  # the temporary keeps the ".keras" Keras insists on
            model.save(temporary)
        model = load_safe(destination)  # also proves the shipped file loads in safe mode
        return {
            "files": [destination],
            "parameters": int(model.count_params()),
            "input_shape": list(model.input_shape[1:]),
            "input_contract": INPUT_CONTRACT,
        }

    @classmethod
    def score_files(cls, path: Path, files: list[Path], batch_size: int = 32) -> np.ndarray:
        """P(pneumonia) of image files read as ``INPUT_CONTRACT`` says (as Keras' ``load_img``)."""
        model = load_safe(path)
        size = tuple(model.input_shape[1:3])
        out = []
        for start in range(0, len(files), batch_size):
            batch = np.stack([read_file(file, size, "RGB") for file in files[start : start + batch_size]])
            out.append(np.asarray(model.predict_on_batch(batch), dtype=np.float32)[:, 0])
        return np.concatenate(out)

    def predict(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        return self.keras.predict(images, batch_size=batch_size)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.keras.model.predict_on_batch(x), dtype=np.float32)[:, 0]

    def nonfinite_weights(self) -> list[str]:
        return [
            variable.path if hasattr(variable, "path") else variable.name
            for variable in self.keras.model.weights
            if not np.isfinite(np.asarray(variable)).all()
        ]

    def _explain(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        from classifiers.gradcam import grad_cam_maps

        return grad_cam_maps(self.keras, images, batch_size=batch_size)
