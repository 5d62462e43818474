"""Import Keras once, on the TensorFlow (default) or PyTorch backend, configured for determinism.

Every Keras-using module of this package imports ``keras`` from here, so the configuration below
runs before the first op: ``import classifiers`` itself stays free of TensorFlow and PyTorch (see
``classifiers/__init__.py``). The backend is Keras' own switch, ``KERAS_BACKEND``: unset it means
``tensorflow`` (the CPU default); ``KERAS_BACKEND=torch`` trains and predicts on PyTorch (a GPU
machine's usual framework) without TensorFlow being imported at all. A ``.keras`` file saved on one
backend loads on the other.
"""

from __future__ import annotations

import functools
import os
import warnings

from cxr_kernel.native_stderr import without_startup_noise

# Both must be set before TensorFlow/Keras are first imported: C++ INFO/WARNING logs off, and Keras 3
# on the TensorFlow backend unless the user chose another. The libraries' load-time lines, which
# precede that setting's reach, are filtered out of stderr (cxr_kernel.native_stderr).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

with without_startup_noise():
    import keras

__all__ = ["BACKENDS", "backend_name", "configure_backend", "keras"]

#: Keras backends the classifiers are written and tested for.
BACKENDS = ("tensorflow", "torch")


def backend_name() -> str:
    """The Keras backend in use: ``"tensorflow"`` or ``"torch"``."""
    return keras.backend.backend()


def _configure_tensorflow() -> None:
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # the GPU was initialised before this module was imported
            warnings.warn(
                f"Could not enable memory growth on {gpu.name}: TensorFlow already initialised it. "
                "Import classifiers before running any TensorFlow op.",
                RuntimeWarning,
                stacklevel=3,
            )


def _configure_torch() -> None:
    import torch

    # cuBLAS needs this workspace setting to be deterministic; it must be set before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    # warn_only: an op without a deterministic kernel warns instead of failing the run.
    torch.use_deterministic_algorithms(True, warn_only=True)


@functools.cache
def configure_backend() -> None:
    """Make the backend's ops deterministic; on TensorFlow also let it grow GPU memory on demand.

    Determinism is on for every use (training, prediction, Grad-CAM), not only training: otherwise a
    Grad-CAM map would depend on whether this process trained the classifier or loaded it from a file.
    Without memory growth TensorFlow reserves nearly all GPU memory at its first op, leaving none
    for the PyTorch super-resolution models running in the same process. Idempotent.

    Raises
    ------
    RuntimeError
        If Keras runs on a backend other than TensorFlow or PyTorch.
    """
    backend = backend_name()
    if backend not in BACKENDS:
        raise RuntimeError(
            f"Expected the Keras backend to be one of {list(BACKENDS)}, got {backend!r}. Unset "
            "KERAS_BACKEND (TensorFlow) or set KERAS_BACKEND=torch before running the benchmark."
        )
    if backend == "tensorflow":
        _configure_tensorflow()
    else:
        _configure_torch()


configure_backend()
