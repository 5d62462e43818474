"""Additive noise models on [0, 1] images: white Gaussian noise and Real-ESRGAN's Poisson noise.

The photon-counting noise of the ``acquisition`` scenario lives with its physics in ``acquisition.py``.
"""

from __future__ import annotations

import numpy as np


def add_gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` and clip.

    Parameters
    ----------
    img : (H, W) float array in [0, 1].
    sigma : noise standard deviation on the [0, 1] scale (Real-ESRGAN's ``noise_range`` is on the
        0-255 scale: pass ``sigma_255 / 255``).
    rng : source of the noise.

    Returns
    -------
    (H, W) float32 array in [0, 1].
    """
    noisy = img + sigma * rng.standard_normal(img.shape)
    return np.clip(noisy, 0.0, 1.0).astype(np.float32)


def add_poisson_noise(img: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Add Real-ESRGAN's Poisson noise (BasicSR ``generate_poisson_noise``) and clip.

    The image is rounded to 8 bits, ``L = 2 ** ceil(log2(number of distinct 8-bit values))`` levels are
    taken as the photon count of full intensity, and the noise is ``scale * (Poisson(q * L) / L - q)``
    for the rounded image ``q``, so its variance is ``scale**2 * q / L``. It is added to the unrounded
    image, as in BasicSR.

    Parameters
    ----------
    img : (H, W) float array in [0, 1].
    scale : noise amplitude (Real-ESRGAN ``poisson_scale_range`` [0.05, 3]).
    rng : source of the noise.

    Returns
    -------
    (H, W) float32 array in [0, 1].
    """
    rounded = np.clip(np.round(img * 255.0), 0, 255) / 255.0
    levels = 2.0 ** np.ceil(np.log2(np.unique(rounded).size))
    noise = scale * (rng.poisson(rounded * levels) / levels - rounded)
    return np.clip(img + noise, 0.0, 1.0).astype(np.float32)
