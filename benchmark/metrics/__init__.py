"""Metric tables: full-reference image quality against HR, and classification of P(pneumonia).

Per-image values are what these functions return; aggregation (means over images, intervals) happens in
``benchmark.stats``.  A mean PSNR in this project is always the mean of per-image PSNR values.
"""

from __future__ import annotations

import numpy as np

from cxr_kernel.registry import Registry

IMAGE_QUALITY_METRICS = Registry(
    "image-quality metric",
    {
        "psnr": "benchmark.metrics.image_quality:psnr",
        "ssim": "benchmark.metrics.image_quality:ssim",
        "mse": "benchmark.metrics.image_quality:mse",
        "mae": "benchmark.metrics.image_quality:mae",
        "gmsd": "benchmark.metrics.image_quality:gmsd",
        "ms_ssim": "benchmark.metrics.image_quality:ms_ssim",
        "hfen": "benchmark.metrics.image_quality:hfen",
        "lpips": "benchmark.metrics.lpips:lpips",
    },
)
# Metrics computed by a network whose weight files the user provides (a suite's `quality: {lpips: ...}`).
NETWORK_METRICS = frozenset({"lpips"})

# Direction of each image-quality metric, for reports and "best variant" choices.
HIGHER_IS_BETTER = {
    "psnr": True,
    "ssim": True,
    "ms_ssim": True,
    "mse": False,
    "mae": False,
    "gmsd": False,
    "hfen": False,
    "lpips": False,
}

CLASSIFICATION_METRICS = Registry(
    "classification metric",
    {
        "accuracy": "benchmark.metrics.classification:accuracy",
        "sensitivity": "benchmark.metrics.classification:sensitivity",
        "specificity": "benchmark.metrics.classification:specificity",
        "auroc": "benchmark.metrics.classification:auroc",
        "log_loss": "benchmark.metrics.classification:log_loss",
        "brier": "benchmark.metrics.classification:brier",
        "ece": "benchmark.metrics.classification:ece",
    },
)


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
    lpips_weights : the weight files of ``lpips`` (``benchmark.metrics.lpips``), passed to it alone.

    Returns
    -------
    dict
        ``{name: value}`` in the order of ``metrics``.
    """
    functions = {name: IMAGE_QUALITY_METRICS.get(name) for name in metrics}
    return {
        name: function(
            reference,
            image,
            data_range=data_range,
            crop_border=crop_border,
            **({"weights": lpips_weights} if name in NETWORK_METRICS else {}),
        )
        for name, function in functions.items()
    }


# Imported last: the batched module reads IMAGE_QUALITY_METRICS above.
from benchmark.metrics.batch import measure_quality_batch as measure_quality_batch  # noqa: E402
