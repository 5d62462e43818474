"""The classical degradation model: blur, downsample, add noise, compress."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from benchmark.degradations.checks import check_choice, check_hr, check_range, finish
from benchmark.degradations.jpeg import jpeg_roundtrip, sample_quality
from benchmark.degradations.noise import add_gaussian_noise
from benchmark.degradations.registry import DEGRADATIONS
from benchmark.degradations.resize import RESIZE_METHODS, downsample


@DEGRADATIONS.register("classical")
def degrade_classical(
    hr: np.ndarray,
    scale: int,
    rng: np.random.Generator,
    *,
    blur_sigma: Sequence[float] = (0.2, 3.0),
    noise_range: Sequence[float] = (1.0, 30.0),
    jpeg_range: Sequence[float] = (30, 95),
    downsample_method: str = "bicubic",
) -> np.ndarray:
    """Classical model ``y = JPEG_q[(x * k_sigma) downsampled by scale + n]`` with per-image draws.

    Source: the classical degradation model, Eq. 1 of Wang et al., "Real-ESRGAN", ICCVW 2021 (also
    SRMD, Zhang et al., CVPR 2018: blur + bicubic downsampling + noise). Default ranges are
    Real-ESRGAN's first-order ones (``train_realesrgan_x4plus.yml``) with an isotropic Gaussian blur.
    Each image draws sigma, noise level and quality uniformly from the ranges (lo == hi fixes them).

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : source of every draw and of the noise.
    blur_sigma : (lo, hi) isotropic Gaussian blur standard deviation in HR pixels, within [0, 10]
        (0 = no blur); reflect borders.
    noise_range : (lo, hi) Gaussian noise standard deviation on the 0-255 scale, within [0, 255]
        (Real-ESRGAN convention; divided by 255 on [0, 1]); added after downsampling.
    jpeg_range : (lo, hi) JPEG quality, integers within [1, 100].
    downsample_method : "bicubic" (default), "bilinear" or "area", all antialiased (``resize.py``).

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1].
    """
    blur_sigma = check_range("blur_sigma", blur_sigma, 0.0, 10.0)
    noise_range = check_range("noise_range", noise_range, 0.0, 255.0)
    jpeg_range = check_range("jpeg_range", jpeg_range, 1, 100)
    downsample_method = check_choice("downsample_method", downsample_method, RESIZE_METHODS)
    hr = check_hr(hr, scale)

    blurred = ndimage.gaussian_filter(hr, rng.uniform(*blur_sigma), mode="mirror")
    lr = downsample(blurred, scale, downsample_method)
    lr = add_gaussian_noise(lr, rng.uniform(*noise_range) / 255.0, rng)
    lr = jpeg_roundtrip(lr, sample_quality(rng, jpeg_range))
    return finish(lr, (hr.shape[0] // scale, hr.shape[1] // scale))
