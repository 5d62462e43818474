"""Backend ``torchscript``: any classifier saved with ``torch.jit.save`` (``torch.jit.trace``/``script``),
run on the CPU. As for ONNX, the suite declares its input (``classifier.preprocessing``); a model that
refuses a batch of that shape, or does not return one value per image, is refused before any work.
No saliency map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classifiers.interface import Classifier, declared_input


class TorchScriptClassifier(Classifier):
    """A TorchScript module: one image batch in, (batch,) or (batch, 1) P(pneumonia) or logit out."""

    type = "torchscript"
    declares_input = True

    def __init__(self, path: Path, preprocessing: dict[str, Any] | None) -> None:
        import torch

        spec, self.output = declared_input(path, preprocessing)
        try:
            self.module = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as error:  # torch raises several types for a foreign or damaged file
            raise ValueError(
                f"Could not load {path} as a TorchScript model ({type(error).__name__}: {error})."
            ) from error
        super().__init__(spec, [path], {"preprocessing": dict(preprocessing)})
        probe = spec.prepare(np.zeros((1, 8, 8), dtype=np.float32))
        try:
            self._outputs(probe)
        except Exception as error:  # a shape mismatch surfaces as whatever the model's first op raises
            raise ValueError(
                f"{path} does not take the input classifier.preprocessing declares, shape "
                f"{list(probe.shape)} ({spec.layout}): "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__}. "
                "Fix size, channels or layout."
            ) from None

    @classmethod
    def load(cls, path: Path, **options: Any) -> TorchScriptClassifier:
        return cls(path, options.get("preprocessing"))

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.module(torch.from_numpy(x))
        if not isinstance(out, torch.Tensor) or out.numel() != len(x):
            shape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"expected one value per image, got {shape} for a batch of {len(x)}")
        return out.reshape(len(x)).float()

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        import torch

        out = self._outputs(x)
        return (torch.sigmoid(out) if self.output == "logit" else out).numpy()

    def nonfinite_weights(self) -> list[str]:
        return [name for name, value in self.module.state_dict().items() if not value.isfinite().all()]
