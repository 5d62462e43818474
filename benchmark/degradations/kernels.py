"""Blur kernels of the Real-ESRGAN degradation model and the filter that applies them.

Formulas follow BasicSR ``basicsr/data/degradations.py`` (Wang et al., "Real-ESRGAN", ICCVW 2021):
with ``q(x) = x^T S^-1 x`` on a centred integer grid and ``S = R(theta) diag(sx^2, sy^2) R(theta)^T``,

- Gaussian: ``exp(-q / 2)``;
- generalized Gaussian: ``exp(-q^beta / 2)`` (beta = 1 is the Gaussian);
- plateau: ``1 / (1 + q^beta)``;
- circular low-pass (2-D "sinc"): ``wc * J1(wc r) / (2 pi r)``, ``wc^2 / (4 pi)`` at r = 0, the ideal
  low-pass filter of cutoff ``wc`` rad/pixel (its 2-D Fourier transform is the disk ``|w| < wc``).

Every kernel is normalised to sum 1. scipy/numpy have no such kernels, hence these few lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import signal, special

from cxr_kernel.errors import UserValueError

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


def covariance(sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """2x2 covariance ``R diag(sigma_x^2, sigma_y^2) R^T``, ``theta`` in radians, x = columns."""
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T


def kernel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer offsets ``(x, y)`` of a ``size`` x ``size`` kernel centred at 0 (x along columns)."""
    if size < 1 or size % 2 == 0:
        raise UserValueError(f"Expected an odd kernel size >= 1, got {size}.")
    axis = np.arange(size, dtype=np.float64) - size // 2
    return np.meshgrid(axis, axis)


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    x, y = kernel_grid(size)
    inverse = np.linalg.inv(covariance(sigma_x, sigma_y, theta))
    return inverse[0, 0] * x**2 + (inverse[0, 1] + inverse[1, 0]) * x * y + inverse[1, 1] * y**2


def _normalised(kernel: np.ndarray) -> np.ndarray:
    return kernel / kernel.sum()


def gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0
) -> np.ndarray:
    """(size, size) Gaussian kernel, isotropic when ``sigma_y`` is None; sigmas in pixels."""
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalised(np.exp(-0.5 * q))


def generalized_gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float, theta: float, beta: float
) -> np.ndarray:
    """(size, size) generalized Gaussian ``exp(-q^beta / 2)``: beta < 1 heavy tails, > 1 flat top."""
    return _normalised(np.exp(-0.5 * _quadratic_form(size, sigma_x, sigma_y, theta) ** beta))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    """(size, size) plateau-shaped kernel ``1 / (1 + q^beta)``."""
    return _normalised(1.0 / (1.0 + _quadratic_form(size, sigma_x, sigma_y, theta) ** beta))


def circular_lowpass_kernel(cutoff: float, size: int) -> np.ndarray:
    """(size, size) circular low-pass ("sinc") kernel with cutoff ``cutoff`` in (0, pi] rad/pixel."""
    x, y = kernel_grid(size)
    radius = np.hypot(x, y)
    centre = radius == 0
    # J1(t)/t -> 1/2 as t -> 0, which gives the centre value cutoff^2 / (4 pi).
    safe = np.where(centre, 1.0, radius)
    ring = cutoff * special.j1(cutoff * safe) / (2 * np.pi * safe)
    return _normalised(np.where(centre, cutoff**2 / (4 * np.pi), ring))


def _draw_beta(rng: np.random.Generator, beta_range: Sequence[float]) -> float:
    low, high = beta_range
    # BasicSR draws half the shapes below 1 and half above when the range straddles 1.
    if low <= 1.0 <= high:
        return float(rng.uniform(low, 1.0) if rng.uniform() < 0.5 else rng.uniform(1.0, high))
    return float(rng.uniform(low, high))


def random_mixed_kernel(
    rng: np.random.Generator,
    size: int,
    kernel_prob: Sequence[float],
    sigma_range: Sequence[float],
    betag_range: Sequence[float],
    betap_range: Sequence[float],
) -> np.ndarray:
    """Draw one kernel as BasicSR ``random_mixed_kernels`` does (no multiplicative kernel noise).

    Parameters
    ----------
    rng : source of every draw.
    size : odd kernel size.
    kernel_prob : probabilities of ``KERNEL_TYPES`` in that order.
    sigma_range : (lo, hi) of sigma_x and sigma_y in pixels; rotation is uniform in [-pi, pi].
    betag_range, betap_range : (lo, hi) shape of the generalized Gaussian / plateau kernels.

    Returns
    -------
    (size, size) float64 kernel summing to 1.
    """
    kind = KERNEL_TYPES[rng.choice(len(KERNEL_TYPES), p=kernel_prob)]
    sigma_x = float(rng.uniform(*sigma_range))
    if kind.split("_")[-1] == "iso":
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = float(rng.uniform(*sigma_range)), float(rng.uniform(-np.pi, np.pi))
    if kind.startswith("generalized"):
        return generalized_gaussian_kernel(size, sigma_x, sigma_y, theta, _draw_beta(rng, betag_range))
    if kind.startswith("plateau"):
        return plateau_kernel(size, sigma_x, sigma_y, theta, _draw_beta(rng, betap_range))
    return gaussian_kernel(size, sigma_x, sigma_y, theta)


def filter2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate a (H, W) image with an odd square kernel, reflecting at the borders.

    Same result as ``scipy.ndimage.correlate(img, kernel, mode="mirror")`` and BasicSR ``filter2D``
    (reflect padding + ``conv2d``), computed by FFT because 21x21 kernels on 512x512 images are ~10x
    faster that way.

    Returns
    -------
    (H, W) float32 array.
    """
    pad = kernel.shape[0] // 2
    padded = np.pad(np.asarray(img, dtype=np.float64), pad, mode="reflect")
    return signal.fftconvolve(padded, kernel[::-1, ::-1], mode="valid").astype(np.float32)
