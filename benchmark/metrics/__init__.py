"""Metric tables: full-reference image quality against HR, and classification of P(pneumonia).

Per-image values are what these functions return; aggregation (means over images, intervals) happens in
``benchmark.stats``.  A mean PSNR in this project is always the mean of per-image PSNR values.

Each metric is described once, by the ``MetricSpec`` its defining module registers (``spec``); the
tables below are read from those specs. Every module of this package except the helpers in
``HELPER_MODULES`` is imported here, so a metric in a new module is found without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from benchmark.metrics.batch import measure_quality_batch as measure_quality_batch
from benchmark.metrics.spec import CLASSIFICATION, IMAGE_QUALITY, lookup, specs
from benchmark.metrics.spec import CLASSIFICATION_METRICS as CLASSIFICATION_METRICS
from benchmark.metrics.spec import IMAGE_QUALITY_METRICS as IMAGE_QUALITY_METRICS

#: Modules that define no metric (helpers, and implementations their metric module imports on use).
HELPER_MODULES = frozenset({"batch", "checks", "filters", "lpips_network", "references", "spec"})

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in HELPER_MODULES:
        importlib.import_module(f"{__name__}.{_module.name}")

# ``IMAGE_QUALITY_METRICS`` and ``CLASSIFICATION_METRICS`` (``names()``, ``check(name)``, ``get(name)``: the
# per-image function, ``info(name)``: its spec) are filled now that every metric module is imported.
# Metrics computed by a network whose weight files the user provides (a suite's `quality: {lpips: ...}`).
NETWORK_METRICS = frozenset(s.name for s in specs(IMAGE_QUALITY) if s.needs_weights)


def run_records(quality_metrics: list[str]) -> dict[str, dict]:
    """name -> ``MetricSpec.record()`` of a run's metrics: its image-quality metrics and every
    classification metric (the statistics compute them all), for ``summary.json``'s ``metric_specs``."""
    return {
        s.name: s.record()
        for s in specs()
        if s.kind == CLASSIFICATION or (s.kind == IMAGE_QUALITY and s.name in quality_metrics)
    }


def measure_quality(
    reference: np.ndarray,
    image: np.ndarray,
    metrics: list[str],
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    lpips_weights=None,
) -> dict[str, float]:
    """Compute several registered image-quality metrics of one (H, W) image against its reference.

    Parameters
    ----------
    reference, image : (H, W) float arrays (float32 in [0, 1] in this project).
    metrics : names from ``IMAGE_QUALITY_METRICS`` (unknown names raise ``UserError``).
    data_range, crop_border : passed to every metric (see ``benchmark.metrics.image_quality``).
    lpips_weights : the weight files of the metrics that need them (``benchmark.metrics.lpips``).

    Returns
    -------
    dict
        ``{name: value}`` in the order of ``metrics``.
    """
    chosen = [lookup(name, IMAGE_QUALITY) for name in metrics]
    return {
        s.name: s.function(
            reference,
            image,
            data_range=data_range,
            crop_border=crop_border,
            **({"weights": lpips_weights} if s.needs_weights else {}),
        )
        for s in chosen
    }
