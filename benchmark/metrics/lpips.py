"""The LPIPS metric (v0.1, AlexNet; Zhang et al. 2018): its spec and per-image function.

The network, its weight checks and the batched distances are ``benchmark.metrics.lpips_network``
(torch), imported only when LPIPS is computed, so reading the metric table imports no framework.
LPIPS needs two weight files the user gives (a suite's ``quality: {lpips: {backbone, linear}}``; see
``lpips_network``); 0 for identical images, larger is less similar.
"""

from __future__ import annotations

import functools
from math import inf
from typing import Any

import numpy as np

from benchmark.metrics.checks import prepare
from benchmark.metrics.spec import image_quality_metric

# Least image side: the second max pooling needs 3x3 input (31 px -> conv 7 -> pool 3).
MIN_SIDE = 31


def _bound_distances(weights: Any):
    """The batched LPIPS function of ``weights``' network (loaded once per process)."""
    from benchmark.metrics import lpips_network

    return functools.partial(lpips_network.lpips_distances, network=lpips_network.load_network(weights))


@image_quality_metric(
    "lpips",
    label="LPIPS",
    higher_is_better=False,
    bounds=(0.0, inf),
    batched=_bound_distances,
    min_side=MIN_SIDE,
    needs_weights=True,
)
def lpips(
    reference: np.ndarray,
    image: np.ndarray,
    *,
    data_range: float,
    crop_border: int = 0,
    weights: Any = None,
) -> float:
    """LPIPS v0.1 (AlexNet) of one (H, W) image against its reference; 0 when identical.

    Parameters
    ----------
    reference, image : (H, W) float arrays in [0, data_range], at least 31 pixels per side.
    data_range : span of pixel values (1.0 for [0, 1] images); images are mapped to [-1, 1].
    crop_border : pixels removed from each side first.
    weights : the backbone and linear-layer files (``benchmark.metrics.lpips_network``).
    """
    reference, image = prepare(reference, image, data_range, crop_border, min_side=MIN_SIDE)
    distances = _bound_distances(weights)
    return float(distances(reference[None], image[None], data_range)[0])
