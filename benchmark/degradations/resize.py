"""Antialiased resizing of float images with Pillow's separable resampling filters.

Pillow (mode ``"F"``, 32-bit float, no 8-bit rounding) widens each filter's support by the reduction
factor when shrinking, so every method is antialiased: ``"bicubic"`` is the Keys cubic (a = -0.5), the
same convention as MATLAB ``imresize(..., 'bicubic')`` used by the SR literature (MATLAB also widens the
kernel when shrinking); ``"bilinear"`` is the triangle filter; ``"area"`` is the box filter, i.e. the
exact block mean for integer factors.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from cxr_kernel.errors import UserValueError

RESIZE_METHODS = ("area", "bilinear", "bicubic")

_FILTERS = {
    "area": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def resize(img: np.ndarray, shape: tuple[int, int], method: str = "bicubic") -> np.ndarray:
    """Resize a 2-D image to ``shape`` = (height, width).

    Parameters
    ----------
    img : (H, W) float array; values are not clipped (bicubic can over/undershoot slightly).
    shape : output (height, width), each >= 1.
    method : one of ``RESIZE_METHODS``.

    Returns
    -------
    (height, width) float32 array.
    """
    if method not in _FILTERS:
        raise UserValueError(f"Expected resize method in {RESIZE_METHODS}, got {method!r}.")
    height, width = shape
    if height < 1 or width < 1:
        raise UserValueError(f"Expected an output shape of at least 1x1, got {shape}.")
    image = Image.fromarray(np.ascontiguousarray(img, dtype=np.float32))  # float32 -> mode "F"
    return np.asarray(image.resize((width, height), resample=_FILTERS[method]), dtype=np.float32)


def downsample(img: np.ndarray, scale: int, method: str = "bicubic") -> np.ndarray:
    """Shrink a (H, W) image to (H // scale, W // scale) with :func:`resize`."""
    return resize(img, (img.shape[0] // scale, img.shape[1] // scale), method)
