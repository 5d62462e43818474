"""Validation shared by the per-image and the batched image-quality metrics."""

from __future__ import annotations

import numpy as np

_LAYOUT = {2: "a 2-D (H, W) grayscale array", 3: "a 3-D (N, H, W) stack of grayscale images"}
_FIX = {2: "Pass one image at a time; drop any channel axis.", 3: "Stack images as (N, H, W) float arrays."}


def prepare(
    reference: np.ndarray,
    image: np.ndarray,
    data_range: float,
    crop_border: int,
    *,
    min_side: int = 1,
    ndim: int = 2,
    keep_float32: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference/image pair (or stack pair) and return both cropped, as float64 arrays.

    Parameters
    ----------
    reference, image : float arrays of ``ndim`` dimensions, (H, W) or (N, H, W), values spanning at
        most ``data_range``.
    data_range : positive finite float.
    crop_border : pixels removed from each side of the last two axes.
    min_side : least side length left after cropping (the metric's window).
    ndim : 2 for one image, 3 for a stack.
    keep_float32 : return float32 input as it is (cropped views, no copy) instead of float64.
    """
    if not np.isscalar(data_range) or not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(
            f"Expected data_range to be a positive finite number, got {data_range!r}. "
            "Pass the span pixel values can take, e.g. data_range=1.0 for images in [0, 1]."
        )
    if not isinstance(crop_border, (int, np.integer)) or isinstance(crop_border, bool) or crop_border < 0:
        raise ValueError(
            f"Expected crop_border to be a non-negative int (pixels per side), got {crop_border!r}. "
            "Use 0 for no cropping or e.g. the SR scale factor."
        )
    arrays = []
    for name, array in (("reference", reference), ("image", image)):
        array = np.asarray(array)
        if not (keep_float32 and array.dtype == np.float32):
            array = array.astype(np.float64, copy=False)
        if array.ndim != ndim:
            raise ValueError(f"Expected {name} to be {_LAYOUT[ndim]}, got shape {array.shape}. {_FIX[ndim]}")
        arrays.append(array)
    reference, image = arrays
    if reference.shape != image.shape:
        raise ValueError(
            f"Expected image and reference of the same shape, got reference {reference.shape} and "
            f"image {image.shape}. Upscale the image to the reference size first."
        )
    if reference.size == 0:
        raise ValueError(f"Expected at least one pixel, got shape {reference.shape}. Pass non-empty images.")
    # min and max are NaN or infinite exactly when some pixel is, so one pass checks both.
    low = float(np.minimum(reference.min(), image.min()))
    high = float(np.maximum(reference.max(), image.max()))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("Expected finite pixel values, got NaN or inf. Check the upstream step.")
    if high - low > data_range * (1 + 1e-6):
        raise ValueError(
            f"Expected pixel values spanning at most data_range={data_range}, got min {low:.6g} and "
            f"max {high:.6g}. Rescale the images or pass the matching data_range."
        )
    height, width = reference.shape[-2:]
    if min(height, width) - 2 * crop_border < min_side:
        raise ValueError(
            f"Expected images at least {min_side} pixels per side after cropping {crop_border} pixels "
            f"from each border, got {height}x{width}. Use a smaller crop_border or larger images."
        )
    if crop_border:
        window = (..., slice(crop_border, -crop_border), slice(crop_border, -crop_border))
        reference, image = reference[window], image[window]
    return reference, image
