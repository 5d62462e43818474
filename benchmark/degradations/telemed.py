"""Telemedicine transmission: a downscaled radiograph sent as a lossy JPEG."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.degradations.checks import check_choice, check_hr, check_range, finish
from benchmark.degradations.jpeg import jpeg_roundtrip, sample_quality
from benchmark.degradations.registry import DEGRADATIONS
from benchmark.degradations.resize import RESIZE_METHODS, downsample


@DEGRADATIONS.register("telemed")
def degrade_telemed(
    hr: np.ndarray,
    scale: int,
    rng: np.random.Generator,
    *,
    quality_range: Sequence[float] = (50, 75),
    downsample_method: str = "bicubic",
) -> np.ndarray:
    """Downscale by ``scale`` (e.g. 512 -> 128 at x4), then 8-bit baseline JPEG at a per-image quality.

    Source: the telemedicine transmission setting of the project issue (image shrunk for bandwidth and
    sent as JPEG at quality 50-75); JPEG is ITU-T T.81 as implemented by libjpeg via Pillow.

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : draws the JPEG quality.
    quality_range : (lo, hi) JPEG quality, integers within [1, 100], drawn uniformly per image
        (inclusive; lo == hi fixes it).
    downsample_method : downscaling filter, "bicubic" (default), "bilinear" or "area", all antialiased.

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1], on the 8-bit grid (multiples of 1/255).
    """
    quality_range = check_range("quality_range", quality_range, 1, 100)
    downsample_method = check_choice("downsample_method", downsample_method, RESIZE_METHODS)
    hr = check_hr(hr, scale)
    lr = jpeg_roundtrip(downsample(hr, scale, downsample_method), sample_quality(rng, quality_range))
    return finish(lr, (hr.shape[0] // scale, hr.shape[1] // scale))
