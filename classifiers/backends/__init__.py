"""Classifier backends, one module each, registered by the ``type`` a suite names (``classifier.type``).

Each module here defines one ``classifiers.interface.Classifier`` subclass with a class attribute
``type``; importing this package registers them in ``BACKENDS`` by scanning this folder (importing a
backend module is cheap: its framework is imported when a model loads). Adding a backend is adding a
module here.

A backend class provides ``load(path, **options)`` (options: the suite's ``arch``, ``input_size``,
``preprocessing``); one that trains also has ``recipe`` (its default ``TrainingRecipe``), ``suffix``
(of its model files) and ``train(images, labels, *, out_path, options, recipe, seed, validation,
progress, resume_dir, threads)``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from cxr_kernel.registry import Registry

#: ``classifier.type`` -> its ``Classifier`` subclass.
BACKENDS = Registry("classifier type", {})


def _register_all() -> None:
    """Register the ``Classifier`` subclass of every backend module in this package under its ``type``."""
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__ and "type" in vars(value):
                BACKENDS.register(value.type, f"{module.__name__}:{name}")


_register_all()


def backend(type_name: str):
    """The ``Classifier`` subclass of ``type_name``; a ``UserError`` listing the types when unknown."""
    return BACKENDS.get(type_name)


def trains(type_name: str) -> bool:
    """Whether the backend of ``type_name`` can train a model (has ``train``)."""
    return hasattr(backend(type_name), "train")
