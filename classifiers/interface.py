"""The one classifier interface the benchmark calls, whatever the framework: ``Classifier``.

Like ``sr_models.upscaler.Upscaler`` on the SR side. A backend (one module in
``classifiers/backends/``, registered by its ``type``) subclasses ``Classifier``: it loads a model,
declares the input it expects (``InputSpec``) and maps prepared batches to P(pneumonia); Grad-CAM or
another saliency map is optional and declared by ``explains``. Images cross the interface as NumPy
float32 grayscale in [0, 1], shape (N, H, W), any size.
"""

from __future__ import annotations

import functools
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from classifiers.preprocessing import RESAMPLING, resize_images, validate_images

CHUNK = 1 << 20


@functools.lru_cache(maxsize=64)
def _file_sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes (cached per path, size and modification time)."""
    stat = Path(path).stat()
    return _file_sha256(Path(path), stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class InputSpec:
    """What the model is fed: the [0, 1] gray image resized to ``size`` by ``resize``, mapped linearly
    onto ``scaling`` (low, high), with ``channels`` identical channels (1 or 3) in ``layout``.

    ``resize`` is ``"nearest"`` (the suite's one rule, as the reference's Keras loader) or
    ``"bilinear"`` (PIL's, antialiased when shrinking).
    """

    size: tuple[int, int]
    channels: int = 1
    scaling: tuple[float, float] = (0.0, 1.0)
    resize: str = "nearest"
    layout: Literal["NHWC", "NCHW"] = "NCHW"

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"Expected 1 or 3 input channels, got {self.channels}.")
        if self.resize not in RESAMPLING:
            raise ValueError(f"Expected resize to be one of {sorted(RESAMPLING)}, got {self.resize!r}.")
        if not self.scaling[1] > self.scaling[0]:
            raise ValueError(f"Expected scaling (low, high) with high > low, got {self.scaling}.")
        if self.layout not in ("NHWC", "NCHW"):
            raise ValueError(f"Expected layout NHWC or NCHW, got {self.layout!r}.")

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W) float32 in [0, 1] -> the model's input batch, float32."""
        x = resize_images(images, self.size, self.resize)
        low, high = self.scaling
        if (low, high) != (0.0, 1.0):
            x = x * np.float32(high - low) + np.float32(low)
        axis = 1 if self.layout == "NCHW" else -1
        return np.repeat(np.expand_dims(x, axis), self.channels, axis=axis)

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "size": list(self.size), "scaling": list(self.scaling)}


def declared_input(path: Path, preprocessing: dict[str, Any] | None) -> tuple[InputSpec, str]:
    """(InputSpec, output kind) of a file-based classifier from the suite's ``preprocessing`` block."""
    if not preprocessing:
        raise ValueError(
            f"{path} is a model file that does not say how its images were prepared: declare it under "
            "classifier.preprocessing (size, channels, scaling, resize, layout, output)."
        )
    options = dict(preprocessing)
    output = options.pop("output", "probability")
    if output not in ("probability", "logit"):
        raise ValueError(f"classifier.preprocessing.output: expected probability or logit, got {output!r}.")
    size = options.pop("size")
    return InputSpec(
        (size, size), **{k: tuple(v) if k == "scaling" else v for k, v in options.items()}
    ), output


class Classifier(ABC):
    """A binary pneumonia classifier behind the suite's image contract.

    Subclasses set ``type`` (the suite's ``classifier.type``), ``explains`` (the saliency method's
    name, or None), ``input`` (an ``InputSpec``) and ``files`` (what identifies the model), and
    implement ``_probabilities`` on prepared batches (and ``_explain`` when ``explains``).
    """

    type: ClassVar[str]
    #: Saliency method ``explain`` computes (e.g. "grad-cam"), or None when the backend has none.
    explains: ClassVar[str | None] = None
    #: Whether the suite must declare the input (``classifier.preprocessing``): a bare model file.
    declares_input: ClassVar[bool] = False

    @classmethod
    def arch_names(cls) -> list[str]:
        """The model names ``classifier.arch`` may take for this type (none by default)."""
        return []

    def __init__(self, input_spec: InputSpec, files: list[Path], settings: dict[str, Any] | None = None):
        self.input = input_spec
        self.files = [Path(file) for file in files]
        self.settings = dict(settings or {})

    @property
    def path(self) -> Path | None:
        """The model file (the first of ``files``), for messages and records."""
        return self.files[0] if self.files else None

    def predict(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """P(pneumonia) of each image: float32 (N,) in [0, 1], ``batch_size`` images per forward pass."""
        if len(validate_images(images)) == 0:
            return np.empty(0, dtype=np.float32)
        if batch_size < 1:
            raise ValueError(f"Expected batch_size >= 1, got {batch_size}.")
        out = [self._probabilities(x) for x in self.prepared(images, batch_size)]
        return np.asarray(np.concatenate(out), dtype=np.float32)

    def prepared(self, images: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
        """``self.input.prepare`` of consecutive ``batch_size`` slices of ``images``, in order."""
        for start in range(0, len(images), batch_size):
            yield self.input.prepare(images[start : start + batch_size])

    @abstractmethod
    def _probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(pneumonia), (B,), of a batch already prepared by ``self.input.prepare``."""

    def explain(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Saliency maps of P(pneumonia), float32 (N, h, w) in [0, 1] on the model's own grid.

        Raises NotImplementedError for a backend without one (``explains`` is None).
        """
        if self.explains is None:
            raise NotImplementedError(f"Classifier type {self.type!r} computes no saliency map.")
        validate_images(images)
        return self._explain(images, batch_size)

    def _explain(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        raise NotImplementedError

    @abstractmethod
    def nonfinite_weights(self) -> list[str]:
        """Names of the model's weight tensors holding NaN or Inf (empty for a sound model)."""

    @property
    def input_size(self) -> tuple[int, int]:
        """The model's input (height, width)."""
        return self.input.size

    @functools.cached_property
    def identity(self) -> str:
        """sha256 naming this classifier for caches: of the model file itself when it is one file
        with no settings (so it equals ``sha256sum`` of the file), else of the files' sha256, the
        type and the settings."""
        shas = [file_sha256(file) for file in self.files]
        if len(shas) == 1 and not self.settings:
            return shas[0]
        record = {"type": self.type, "files": shas, "settings": self.settings}
        return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The provenance record a run stores and the report prints."""
        return {
            "type": self.type,
            "files": [{"path": str(file), "sha256": file_sha256(file)} for file in self.files],
            "sha256": self.identity,
            "input": self.input.record(),
            "explains": self.explains,
            **({"settings": self.settings} if self.settings else {}),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path}, input={self.input})"
