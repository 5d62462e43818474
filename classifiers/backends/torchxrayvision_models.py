"""Backend ``torchxrayvision``: the library's DenseNet-121 chest X-ray models (``classifiers.xrv_densenet``),
their pneumonia output, from a weights file the user has locally (nothing is downloaded).

``classifier: {type: torchxrayvision, arch: densenet121-res224-rsna, weights: <file>}``: ``arch`` names
the library's model the file is (its pneumonia operating point, which the library's forward maps to
0.5, as here); without ``arch`` the output is the plain sigmoid. Input as the library's: gray 224x224
(bilinear, antialiased), scaled to [-1024, 1024]. Grad-CAM on the last dense block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classifiers.interface import Classifier, InputSpec


class TorchXRayVisionClassifier(Classifier):
    """A torchxrayvision DenseNet-121; P(pneumonia) from its 'Pneumonia' output."""

    type = "torchxrayvision"
    explains = "grad-cam"

    def __init__(self, path: Path, arch: str | None = None) -> None:
        from classifiers import xrv_densenet as xrv

        path = Path(path)
        if not path.is_file():
            hint = (
                f" ({xrv.RELEASES}{xrv.MODELS[arch][0]})"
                if arch
                else f" (the files are listed in {xrv.RELEASES})"
            )
            raise FileNotFoundError(
                f"torchxrayvision weights {path} not found: download the library's release file{hint} "
                "yourself and give its path in classifier.weights; nothing is downloaded at run time."
            )
        self.model = xrv.load_densenet(path)
        self.threshold = xrv.MODELS[arch][1] if arch else None
        spec = InputSpec((xrv.INPUT_SIZE, xrv.INPUT_SIZE), channels=1, scaling=xrv.SCALING, resize="bilinear")
        super().__init__(spec, [path], {"arch": arch} if arch else {})

    @classmethod
    def arch_names(cls) -> list[str]:
        from classifiers.xrv_densenet import MODELS

        return sorted(MODELS)

    @classmethod
    def load(cls, path: Path, **options: Any) -> TorchXRayVisionClassifier:
        return cls(path, options.get("arch"))

    def _pneumonia(self, x):
        import torch

        from classifiers.xrv_densenet import PNEUMONIA, op_norm

        probability = torch.sigmoid(self.model(x)[:, PNEUMONIA])
        return probability if self.threshold is None else op_norm(probability, self.threshold)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self._pneumonia(torch.from_numpy(x)).numpy()

    def nonfinite_weights(self) -> list[str]:
        return [name for name, value in self.model.state_dict().items() if not value.isfinite().all()]

    def _explain(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        """Grad-CAM of P(pneumonia) on the last dense block's output (7x7 at 224 px)."""
        from classifiers.torch_gradcam import grad_cam

        return grad_cam(self._pneumonia, self.model.features, self.prepared(images, batch_size))
