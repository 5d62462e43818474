"""Load a trained pneumonia classifier (ours or a user's Keras file) and predict P(pneumonia)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from classifiers.preprocessing import to_model_input, validate_images
from classifiers.runtime import keras
from cxr_kernel.errors import UserFileNotFound, UserValueError


def _is_sigmoid(layer: keras.layers.Layer) -> bool:
    """Whether ``layer`` ends in a sigmoid (a Dense/Conv with activation=sigmoid or an Activation)."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None) == "sigmoid"


class _PreparedBatches(keras.utils.PyDataset):
    """``classifier.prepare`` of consecutive slices of ``images``, in order (one worker)."""

    def __init__(self, classifier: PneumoniaClassifier, images: np.ndarray, batch_size: int) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.classifier, self.images, self.batch_size = classifier, images, batch_size

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, index: int) -> np.ndarray:
        start = index * self.batch_size
        return self.classifier.prepare(self.images[start : start + self.batch_size])


class PneumoniaClassifier:
    """A Keras binary classifier with one sigmoid output, behind the suite's image contract.

    Parameters
    ----------
    model
        Input shape (None, H, W, C) with known H, W and C in {1, 3}; output shape (None, 1) from a
        sigmoid.
    path
        The file it was loaded from, if any (for reports and messages).
    pixel_scale
        Factor applied to the [0, 1] images before the model: 1 for models trained on [0, 1]
        inputs (ours, and the ``rescale=1/255`` tutorials), 255 for models that rescale inside.

    Attributes
    ----------
    input_size : tuple[int, int]
        The model's input (height, width); images are resized to it.
    channels : int
        1 or 3; gray images are replicated to 3 channels when the model wants them.
    """

    def __init__(self, model: keras.Model, path: Path | None = None, pixel_scale: float = 1.0) -> None:
        where = f" in {path}" if path is not None else ""
        input_shape = model.input_shape
        if not (
            isinstance(input_shape, tuple)
            and len(input_shape) == 4
            and all(isinstance(d, int) for d in input_shape[1:3])
            and input_shape[3] in (1, 3)
        ):
            raise ValueError(
                f"Expected a model with one image input of shape (None, H, W, C), C in {{1, 3}}, "
                f"got input shape {input_shape}{where}. Give a Keras image classifier with a fixed "
                "input size."
            )
        if model.output_shape != (None, 1) or not _is_sigmoid(model.layers[-1]):
            raise ValueError(
                f"Expected a model with a single sigmoid output unit (output shape (None, 1)), got "
                f"output shape {model.output_shape} from layer {model.layers[-1].name!r}{where}. "
                "A classifier with two softmax outputs must be converted to one sigmoid unit, "
                "P(pneumonia)."
            )
        if not pixel_scale > 0:
            raise ValueError(f"Expected pixel_scale > 0, got {pixel_scale}.")
        self.model = model
        self.path = path
        self.pixel_scale = float(pixel_scale)
        self.input_size: tuple[int, int] = (input_shape[1], input_shape[2])
        self.channels: int = input_shape[3]

    def prepare(self, batch: np.ndarray) -> np.ndarray:
        """Validate and preprocess images for the model, exactly as in training.

        (N, H, W) float32 in [0, 1] -> (N, h, w, C) float32 times ``pixel_scale``.
        """
        validate_images(batch)
        x = to_model_input(batch, self.input_size, self.channels)
        return x if self.pixel_scale == 1.0 else x * np.float32(self.pixel_scale)

    def batches(self, images: np.ndarray, batch_size: int) -> _PreparedBatches:
        """Prepared model inputs, ``batch_size`` images at a time, for ``Model.predict`` on any backend.

        Preprocessing runs batch by batch (in NumPy, the same ``prepare`` as everywhere); a large set
        is never held at model size all at once.
        """
        validate_images(images)
        if batch_size < 1:
            raise ValueError(f"Expected batch_size >= 1, got {batch_size}.")
        return _PreparedBatches(self, images, batch_size)

    def predict(self, batch: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """P(pneumonia) of each image, by ``Model.predict`` over ``batches``.

        Parameters
        ----------
        batch
            float32 (N, H, W) grayscale in [0, 1], any H, W.
        batch_size
            Images per forward pass.

        Returns
        -------
        np.ndarray
            float32 (N,) in [0, 1].
        """
        if len(validate_images(batch)) == 0:
            return np.empty(0, dtype=np.float32)
        # Batch by batch through the compiled predict step, not ``Model.predict`` on the dataset: on the
        # TensorFlow backend every ``Model.predict`` call wraps its input in a new ``tf.data`` generator
        # that TensorFlow never releases, so each call kept its images alive (about 1 GB per cell of a
        # 200-image study; see docs/performance.md).
        probabilities = [self.model.predict_on_batch(x) for x in self.batches(batch, batch_size)]
        return np.asarray(np.concatenate(probabilities), dtype=np.float32)[:, 0]

    def __repr__(self) -> str:
        size, channels = self.input_size, self.channels
        return f"PneumoniaClassifier(path={self.path}, input_size={size}, channels={channels})"


def load_classifier(path: str | Path, *, pixel_scale: float = 1.0) -> PneumoniaClassifier:
    """Load a ``.keras`` or ``.h5`` pneumonia classifier with Keras safe mode (no code in the file runs).

    Its input size and channels are read from the model; images get the same preprocessing as in
    training (``PneumoniaClassifier.prepare``).

    Parameters
    ----------
    path
        Keras file, from ``train_classifier`` or the user's own.
    pixel_scale
        See ``PneumoniaClassifier``; 1 unless the model expects pixels in [0, 255].

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a Keras model or the model is not a single-sigmoid image classifier.
    """
    path = Path(path)
    if not path.is_file():
        raise UserFileNotFound(
            f"Expected a classifier file at {path}, found none. Train one with the suite's "
            "`classifier: {train: ...}` section, or give the path of your own .h5/.keras file."
        )
    if path.suffix not in (".keras", ".h5"):
        raise UserValueError(f"Expected a .keras or .h5 classifier file, got {path}.")
    try:
        # safe_mode: a Lambda layer's Python code is refused, never run (Keras' default, made explicit).
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for a broken or foreign file
        raise UserValueError(
            f"Could not load {path} as a Keras model ({type(err).__name__}: {err}). Give a model saved "
            "with Keras `model.save(...)` as .keras or .h5; a model with Lambda layers cannot load in "
            "safe mode: rebuild it without them."
        ) from err
    return PneumoniaClassifier(model, path=path, pixel_scale=pixel_scale)
