"""Import TensorFlow/Keras once, configured for sharing a machine with PyTorch.

Every TensorFlow-using module of this package imports ``tf`` and ``keras`` from here, so the
configuration below runs before the first TensorFlow op: ``import classifiers`` itself stays free
of TensorFlow (see ``classifiers/__init__.py``).
"""

from __future__ import annotations

import functools
import os
import warnings

# Both must be set before TensorFlow/Keras are first imported: C++ INFO/WARNING logs off, and Keras 3
# on the TensorFlow backend (the models here mix Keras layers with tf ops).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

__all__ = ["configure_tensorflow", "keras", "tf"]


@functools.cache
def configure_tensorflow() -> None:
    """Let TensorFlow grow GPU memory on demand, make its ops deterministic, check the Keras backend.

    Op determinism is on for every use (training, prediction, Grad-CAM), not only training: otherwise a
    Grad-CAM map would depend on whether this process trained the classifier or loaded it from a file.

    Without memory growth TensorFlow reserves nearly all GPU memory at its first op, leaving none
    for the PyTorch super-resolution models running in the same process. Idempotent.

    Raises
    ------
    RuntimeError
        If Keras was configured with a backend other than TensorFlow.
    """
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"Expected the Keras backend 'tensorflow', got {keras.backend.backend()!r}. "
            "Unset KERAS_BACKEND (or set it to 'tensorflow') before running the benchmark."
        )
    tf.config.experimental.enable_op_determinism()
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialised before this module was imported
            warnings.warn(
                f"Could not enable memory growth on {gpu.name}: TensorFlow already initialised it. "
                "Import classifiers before running any TensorFlow op.",
                RuntimeWarning,
                stacklevel=2,
            )


configure_tensorflow()
