"""The common SR benchmark settings: plain antialiased downsampling, optionally with Gaussian noise."""

from __future__ import annotations

import numpy as np

from benchmark.degradations.checks import check_hr, check_number, finish
from benchmark.degradations.noise import add_gaussian_noise
from benchmark.degradations.registry import DEGRADATIONS
from benchmark.degradations.resize import downsample


@DEGRADATIONS.register("bicubic")
def degrade_bicubic(hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """Antialiased bicubic downsampling by ``scale``: the standard "BI" benchmark degradation.

    Source: the bicubic degradation of the SR literature (SRCNN, Dong et al. 2014; EDSR, Lim et al.
    2017), made with MATLAB ``imresize``; here Pillow's antialiased Keys bicubic (a = -0.5, see
    ``resize.py``). Deterministic: ``rng`` is not used.

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : unused (kept for the common scenario signature).

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1].
    """
    hr = check_hr(hr, scale)
    return finish(downsample(hr, scale, "bicubic"), (hr.shape[0] // scale, hr.shape[1] // scale))


@DEGRADATIONS.register("area")
def degrade_area(hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """Area (box) downsampling by ``scale``: each LR pixel is the mean of a ``scale`` x ``scale`` block.

    Source: area interpolation (OpenCV ``INTER_AREA``, PyTorch ``mode="area"``), also one of
    Real-ESRGAN's resize modes; equivalent to ideal detector pixel binning without noise.
    Deterministic: ``rng`` is not used.

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : unused (kept for the common scenario signature).

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1].
    """
    hr = check_hr(hr, scale)
    return finish(downsample(hr, scale, "area"), (hr.shape[0] // scale, hr.shape[1] // scale))


@DEGRADATIONS.register("bicubic-noise")
def degrade_bicubic_noise(
    hr: np.ndarray, scale: int, rng: np.random.Generator, *, sigma: float = 0.01
) -> np.ndarray:
    """Antialiased bicubic downsampling, then additive white Gaussian noise on the LR image.

    Source: the ESRGAN-on-NIH ChestX-ray14 setting named in the project issue (bicubic, then Gaussian
    noise of sigma 0.01 on [0, 1]); the "BN"-style bicubic + noise degradation of the SR literature.

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : source of the noise.
    sigma : noise standard deviation on the [0, 1] intensity scale, in [0, 1] (default 0.01,
        i.e. 2.55 on the 0-255 scale).

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1] (clipped after the noise).
    """
    sigma = check_number("sigma", sigma, 0.0, 1.0)
    hr = check_hr(hr, scale)
    lr = add_gaussian_noise(downsample(hr, scale, "bicubic"), sigma, rng)
    return finish(lr, (hr.shape[0] // scale, hr.shape[1] // scale))
