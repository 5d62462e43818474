"""How similar two saliency maps of the same images are ("did the evidence move"), whatever made them."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Share of map cells counted as "the evidence" by ``map_similarity``'s IoU.
TOP_FRACTION = 0.1


def _top_cells(flat: np.ndarray, k: int) -> list[set[int]]:
    """Per row, the ``k`` highest cells (ties broken by cell order) that are above zero."""
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    return [set(cells[row[cells] > 0].tolist()) for cells, row in zip(order, flat, strict=True)]


def map_similarity(maps: np.ndarray, reference: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image similarity of Grad-CAM maps to reference maps of the same images ("did the evidence move").

    Parameters
    ----------
    maps, reference
        float (N, h, w) maps on the same grid, e.g. of an SR variant and of HR.

    Returns
    -------
    dict
        (N,) float64 arrays, always defined so that every image has a value:
        ``gradcam_pearson``: Pearson r over the map cells (scipy); r is undefined for a constant map,
        so it is 1 when the two maps are identical and 0 when either is constant and they differ.
        ``gradcam_iou10``: intersection over union of each map's evidence, its
        ``ceil(TOP_FRACTION * h * w)`` highest cells (ties broken by cell order) that are above zero;
        1 when neither map has any evidence.
    """
    if maps.shape != reference.shape or maps.ndim != 3:
        raise ValueError(
            f"Expected two (N, h, w) arrays of one shape, got {maps.shape} and {reference.shape}."
        )
    a = maps.reshape(len(maps), -1).astype(np.float64)
    b = reference.reshape(len(reference), -1).astype(np.float64)
    varying = (a.std(axis=1) > 0) & (b.std(axis=1) > 0)
    pearson = np.where((a == b).all(axis=1), 1.0, 0.0)
    if varying.any():
        pearson[varying] = stats.pearsonr(a[varying], b[varying], axis=1).statistic

    k = math.ceil(TOP_FRACTION * a.shape[1])
    iou = np.array(
        [
            len(x & y) / len(x | y) if x | y else 1.0
            for x, y in zip(_top_cells(a, k), _top_cells(b, k), strict=True)
        ]
    )
    return {"gradcam_pearson": pearson, "gradcam_iou10": iou}
