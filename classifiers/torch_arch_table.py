"""The ``torch`` classifier type's architectures by name: a lazy table, so naming one (a suite's
``classifier.arch``, checked when the suite loads) imports no torch."""

from __future__ import annotations

from cxr_kernel.registry import Registry

#: ``classifier: {type: torch, arch: <name>}`` -> the function building the untrained model.
ARCHS = Registry(
    "torch classifier architecture",
    {"resnet18": "classifiers.torch_archs:resnet18", "mobilenet_v2": "classifiers.torch_archs:mobilenet_v2"},
)
