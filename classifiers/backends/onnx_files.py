"""Backend ``onnx``: any classifier exported to ONNX (from any framework), run by onnxruntime on the CPU.

The file says nothing about how its images were prepared, so the suite declares it
(``classifier.preprocessing``: size, channels, scaling, resize, layout, output); a file whose input
shape disagrees with that declaration is refused before any work. No saliency map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from classifiers.interface import Classifier, InputSpec, declared_input


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def check_shape(path: Path, spec: InputSpec, shape: list, what: str) -> None:
    """Refuse a model whose fixed input dimensions disagree with ``spec`` (symbolic ones pass)."""
    expected = [spec.channels, *spec.size] if spec.layout == "NCHW" else [*spec.size, spec.channels]
    found = list(shape)[1:]
    agrees = len(found) == 3 and all(
        not isinstance(f, int) or f == e for f, e in zip(found, expected, strict=True)
    )
    if not agrees:
        raise ValueError(
            f"{path} takes {what} of shape {list(shape)}, but classifier.preprocessing declares "
            f"(batch, {', '.join(map(str, expected))}) ({spec.layout}): fix size, channels or layout."
        )


class OnnxClassifier(Classifier):
    """An ONNX model with one image input and one output, P(pneumonia) or its logit, per image."""

    type = "onnx"
    declares_input = True

    def __init__(self, path: Path, preprocessing: dict[str, Any] | None) -> None:
        import onnxruntime

        spec, self.output = declared_input(path, preprocessing)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own types for a foreign or damaged file
            raise ValueError(
                f"Could not load {path} as an ONNX model ({type(error).__name__}: {error})."
            ) from error
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ValueError(
                f"{path} has {len(inputs)} inputs and {len(outputs)} outputs; expected one image input and "
                "one output (P(pneumonia) or its logit)."
            )
        check_shape(path, spec, inputs[0].shape, f"input {inputs[0].name!r}")
        self.input_name = inputs[0].name
        super().__init__(spec, [path], {"preprocessing": dict(preprocessing)})

    @classmethod
    def load(cls, path: Path, **options: Any) -> OnnxClassifier:
        return cls(path, options.get("preprocessing"))

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        (out,) = self.session.run(None, {self.input_name: x.astype(np.float32, copy=False)})
        out = np.asarray(out, dtype=np.float32).reshape(len(x), -1)
        if out.shape[1] != 1:
            raise ValueError(f"{self.path} returned {out.shape[1]} values per image; expected one.")
        return _sigmoid(out[:, 0]) if self.output == "logit" else out[:, 0]

    def nonfinite_weights(self) -> list[str]:
        import onnx
        from onnx import numpy_helper

        graph = onnx.load(str(self.path)).graph
        return [t.name for t in graph.initializer if not np.isfinite(numpy_helper.to_array(t)).all()]
