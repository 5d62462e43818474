"""Backend ``torch``: the architectures of ``classifiers.torch_archs``, trained by this suite or loaded
from a ``.pt`` file (``classifiers.torch_io``). Grad-CAM on the last convolutional stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from classifiers.contract import read_file
from classifiers.interface import Classifier, InputSpec
from classifiers.recipe import TORCH_RECIPE


def input_contract(size: int) -> dict[str, str]:
    """How the shipped ``.onnx`` export takes its images, for the sidecar."""
    return {
        "color": "grayscale: PIL convert('L'), one channel",
        "resize": f"nearest neighbour to {size}x{size} (PIL)",
        "scale": "pixel values / 255, float32 in [0, 1]; the ImageNet normalisation is inside the graph",
        "layout": f"NCHW: input 'image' of shape (batch, 1, {size}, {size})",
        "output": "'probability' (batch, 1): P(pneumonia), the sigmoid of the network's logit",
    }


class TorchClassifier(Classifier):
    """A ``torch_archs`` model: gray (N, 1, s, s) in [0, 1] (nearest-neighbour resize) -> logit."""

    type = "torch"
    explains = "grad-cam"
    recipe: ClassVar = TORCH_RECIPE
    suffix: ClassVar[str] = ".pt"

    def __init__(self, path: Path, *, arch: str | None = None, input_size: int | None = None) -> None:
        from classifiers.torch_io import load_model, read_model_file

        stored = read_model_file(path)
        self.model, self.arch, size = load_model(path, arch=arch, input_size=input_size)
        # A plain state dict is identified together with the architecture and size the suite names.
        settings = {} if stored["arch"] else {"arch": self.arch, "input_size": size}
        super().__init__(InputSpec((size, size), channels=1, resize="nearest"), [path], settings)

    @classmethod
    def arch_names(cls) -> list[str]:
        from classifiers.torch_arch_table import ARCHS

        return ARCHS.names()

    @classmethod
    def load(cls, path: Path, **options: Any) -> TorchClassifier:
        return cls(path, arch=options.get("arch"), input_size=options.get("input_size"))

    @classmethod
    def train(cls, images, labels, *, out_path: Path, options: dict[str, Any], **kwargs: Any) -> Path:
        """``classifiers.torch_training.train_torch_classifier`` of ``options["arch"]``."""
        from classifiers.torch_training import train_torch_classifier

        return train_torch_classifier(
            images,
            labels,
            arch=options["arch"],
            input_size=options["input_size"],
            out_path=out_path,
            **kwargs,
        )

    @classmethod
    def ship(cls, source: Path, destination: Path) -> dict[str, Any]:
        """Write ``source``'s model to ``destination`` with float16 weights and, beside it, its ONNX
        export (same base name, ``.onnx``) with those same weights in float32; the sidecar's record."""
        from classifiers.torch_io import export_onnx, load_model, save_model

        model, arch, size = load_model(source)
        save_model(destination, model, arch=arch, input_size=size, half=True)
        model, _, _ = load_model(destination)  # the float16 weights, as every user of the file gets them
        onnx_path = export_onnx(model, size, Path(destination).with_suffix(".onnx"))
        return {
            "files": [Path(destination), onnx_path],
            "parameters": sum(p.numel() for p in model.parameters()),
            "input_shape": [1, size, size],
            "input_contract": input_contract(size),
            "arch": arch,
            "weights_dtype": "float16 (loaded as float32)",
        }

    @classmethod
    def score_files(cls, path: Path, files: list[Path], batch_size: int = 32) -> np.ndarray:
        """P(pneumonia) of image files by the ONNX export beside ``path`` (onnxruntime), files read as
        ``input_contract`` says: independent of torch and of this project's preprocessing."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(Path(path).with_suffix(".onnx")), options, providers=["CPUExecutionProvider"]
        )
        size = tuple(session.get_inputs()[0].shape[2:4])
        out = []
        for start in range(0, len(files), batch_size):
            batch = np.stack([read_file(file, size, "L") for file in files[start : start + batch_size]])
            out.append(session.run(None, {"image": batch[:, None]})[0][:, 0])
        return np.concatenate(out).astype(np.float32)

    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return torch.sigmoid(self.model(torch.from_numpy(x))[:, 0]).numpy()

    def nonfinite_weights(self) -> list[str]:
        return [name for name, value in self.model.state_dict().items() if not value.isfinite().all()]

    def _explain(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        """Grad-CAM of the sigmoid output on ``torch_archs.target_layer``'s grid."""
        import torch

        from classifiers.torch_archs import target_layer
        from classifiers.torch_gradcam import grad_cam

        score = lambda x: torch.sigmoid(self.model(x)[:, 0])  # noqa: E731
        return grad_cam(score, target_layer(self.model), self.prepared(images, batch_size))
