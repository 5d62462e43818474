"""``MetricSpec``: the one description of a metric, registered where its function is defined.

A metric's kind, display label, direction (higher or lower is better), bounds, whether it needs weight
files, and its per-image and batched functions are written once, in the decorator on its function::

    @image_quality_metric("psnr", label="PSNR (dB)", higher_is_better=True, bounds=(0, inf), batched=...)
    def psnr(reference, image, *, data_range, crop_border=0): ...

The decorator registers the function in ``METRICS`` and in the table of its kind
(``IMAGE_QUALITY_METRICS``, ``CLASSIFICATION_METRICS``), the spec as the entry's ``info``. Everything
else reads them from there: the pipeline's batched quality stage (``batch``), the suite check and
``list``, the statistics' threshold and score metric tuples (``classification``), the run's
``summary.json`` (``benchmark.metrics.run_records``), and the report's labels and best-value marks
(``reports.formatting``, which prefers the run's stored records).

A new metric is one module in ``benchmark/metrics`` (``benchmark.metrics`` imports each) whose
function carries the decorator, plus its tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cxr_kernel.registry import Registry

IMAGE_QUALITY = "image_quality"
CLASSIFICATION = "classification"
KINDS = (IMAGE_QUALITY, CLASSIFICATION)


@dataclass(frozen=True)
class MetricSpec:
    """One metric.

    Attributes
    ----------
    name : the key in suites, stored results and tables (``psnr``).
    kind : ``IMAGE_QUALITY`` (an image against its HR reference) or ``CLASSIFICATION`` (P(pneumonia)
        against labels).
    label : display name (``PSNR (dB)``).
    higher_is_better : direction, for the report's best value and "better"/"worse" wording.
    bounds : (least, greatest) value the metric can take (``math.inf`` for unbounded).
    function : the per-image function (image quality: ``(reference, image, *, data_range,
        crop_border[, weights])``; classification: ``(labels, probs, *[, threshold], weights)``).
    batched : image quality: the function of a prepared (N, H, W) stack pair and ``data_range``
        returning (N,) values, as ``benchmark.metrics.batch`` runs it; for a metric that needs weights,
        a function of the weights returning that function (see ``batched_function``).
    min_side : least image side (after cropping) the batched function needs.
    needs_weights : computed by a network whose weight files the user gives (a suite's ``quality:``).
    threshold : classification: the value depends on a decision threshold (accuracy, ...), not only on
        the ranking or calibration of the scores (AUROC, ...).
    listed_first : shown in the leading columns of the report's tables (the others follow when stored).
    """

    name: str
    kind: str
    label: str
    higher_is_better: bool
    bounds: tuple[float, float]
    function: Callable[..., Any]
    batched: Callable[..., Any] | None = None
    min_side: int = 1
    needs_weights: bool = False
    threshold: bool = False
    listed_first: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Expected kind in {KINDS}, got {self.kind!r} for metric {self.name!r}.")
        if self.kind == IMAGE_QUALITY and self.batched is None:
            raise ValueError(f"Image-quality metric {self.name!r} needs a batched function.")

    @property
    def direction(self) -> int:
        """+1 if higher is better, -1 if lower is better."""
        return 1 if self.higher_is_better else -1

    def batched_function(self, weights: Any = None) -> Callable[..., Any]:
        """The batched function; for a metric that needs weights, bound to ``weights`` (may load them)."""
        if self.batched is None:
            raise ValueError(f"Metric {self.name!r} has no batched form.")
        return self.batched(weights) if self.needs_weights else self.batched

    def record(self) -> dict[str, Any]:
        """The JSON-ready description a run stores (``summary.json``: ``metric_specs``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "higher_is_better": self.higher_is_better,
            "bounds": [None if math.isinf(b) else b for b in self.bounds],
            "needs_weights": self.needs_weights,
            "threshold": self.threshold,
            "listed_first": self.listed_first,
        }


#: name -> per-image function, with its ``MetricSpec`` as ``info``, in registration order (module discovery
#: order, then definition order in a module): every metric, and the metrics of each kind.
METRICS = Registry("metric")
IMAGE_QUALITY_METRICS = Registry("image-quality metric")
CLASSIFICATION_METRICS = Registry("classification metric")
_OF_KIND = {IMAGE_QUALITY: IMAGE_QUALITY_METRICS, CLASSIFICATION: CLASSIFICATION_METRICS}


def register(spec: MetricSpec) -> MetricSpec:
    """Add ``spec`` to ``METRICS`` and its kind's table; a name taken (of either kind) is refused."""
    for table in (METRICS, _OF_KIND[spec.kind]):
        table.register(spec.name, spec.function, info=spec)
    return spec


def _decorator(kind: str, name: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function.metric_spec = register(MetricSpec(name=name, kind=kind, function=function, **options))
        return function

    return decorate


def image_quality_metric(name: str, **options: Any):
    """Decorator registering an image-quality metric (options: the ``MetricSpec`` fields)."""
    return _decorator(IMAGE_QUALITY, name, **options)


def classification_metric(name: str, **options: Any):
    """Decorator registering a classification metric (options: the ``MetricSpec`` fields)."""
    return _decorator(CLASSIFICATION, name, **options)


def specs(kind: str | None = None) -> list[MetricSpec]:
    """The registered specs (of ``kind``), in registration order."""
    table = METRICS if kind is None else _OF_KIND[kind]
    return [table.info(name) for name in table]


def lookup(name: str, kind: str | None = None) -> MetricSpec:
    """The spec of ``name`` (of ``kind``); an unknown name raises ``UserError`` suggesting close ones."""
    return (METRICS if kind is None else _OF_KIND[kind]).info(name)


def defined_in(module: str) -> list[MetricSpec]:
    """The specs registered by ``module`` (its ``__name__``), in definition order."""
    return [spec for spec in specs() if spec.function.__module__ == module]
