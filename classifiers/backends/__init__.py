"""Classifier backends, one module each, registered by the ``type`` a suite names (``classifier.type``).

Each module here defines one ``classifiers.interface.Classifier`` subclass with a class attribute
``type``, and ``BACKENDS`` names it by that type, one line each; a backend module is imported when its
type is named, and its framework only when a model loads. Adding a backend is adding a module here and
its line.

A backend class provides ``load(path, **options)`` (options: the suite's ``arch``, ``input_size``,
``preprocessing``); one that trains also has ``recipe`` (its default ``TrainingRecipe``), ``suffix``
(of its model files) and ``train(images, labels, *, out_path, options, recipe, seed, validation,
progress, resume_dir, threads)``.
"""

from __future__ import annotations

from cxr_kernel.registry import Registry

#: ``classifier.type`` -> its ``Classifier`` subclass (whose ``type`` is that name).
BACKENDS = Registry(
    "classifier type",
    {
        "keras": "classifiers.backends.keras_files:KerasClassifier",
        "onnx": "classifiers.backends.onnx_files:OnnxClassifier",
        "torch": "classifiers.backends.torch_models:TorchClassifier",
        "torchscript": "classifiers.backends.torchscript_files:TorchScriptClassifier",
        "torchxrayvision": "classifiers.backends.torchxrayvision_models:TorchXRayVisionClassifier",
    },
)


def backend(type_name: str):
    """The ``Classifier`` subclass of ``type_name``; a ``UserError`` listing the types when unknown."""
    return BACKENDS.get(type_name)


def trains(type_name: str) -> bool:
    """Whether the backend of ``type_name`` can train a model (has ``train``)."""
    return hasattr(backend(type_name), "train")
