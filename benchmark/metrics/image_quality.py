"""Full-reference image-quality metrics of one image against its HR reference.

Every metric is a pure function ``metric(reference, image, *, data_range, crop_border=0) -> float`` on
two (H, W) grayscale arrays.  ``data_range`` is required (the span the pixel values can take, 1.0 for
the benchmark's [0, 1] float32 images) because guessing it from the data silently changes PSNR/SSIM.
``crop_border`` pixels are removed from every side of both images first, as BasicSR does to ignore the
border an upscaler cannot reconstruct.  Values are computed in float64.

Conventions follow scikit-image (``skimage.metrics``); ``ssim`` defaults to the Gaussian-window variant
of Wang et al. 2004, which is also what BasicSR reports (see ``ssim``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

# Side of the SSIM window: 11 for the Gaussian window (sigma 1.5, truncated at 3.5 sigma), 7 otherwise.
_SSIM_WINDOW = {True: 11, False: 7}


def _prepare(
    reference: np.ndarray, image: np.ndarray, data_range: float, crop_border: int, min_side: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference/image pair and return both as cropped float64 arrays."""
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
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 2:
            raise ValueError(
                f"Expected {name} to be a 2-D (H, W) grayscale array, got shape {array.shape}. "
                "Pass one image at a time; drop any channel axis."
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"Expected finite {name} pixel values, got NaN or inf. Check the upstream step.")
        arrays.append(array)
    reference, image = arrays
    if reference.shape != image.shape:
        raise ValueError(
            f"Expected image and reference of the same shape, got reference {reference.shape} and "
            f"image {image.shape}. Upscale the image to the reference size first."
        )
    low = min(reference.min(), image.min())
    high = max(reference.max(), image.max())
    if high - low > data_range * (1 + 1e-6):
        raise ValueError(
            f"Expected pixel values spanning at most data_range={data_range}, got min {low:.6g} and "
            f"max {high:.6g}. Rescale the images or pass the matching data_range."
        )
    height, width = reference.shape
    if min(height, width) - 2 * crop_border < min_side:
        raise ValueError(
            f"Expected images at least {min_side} pixels per side after cropping {crop_border} pixels "
            f"from each border, got {height}x{width}. Use a smaller crop_border or larger images."
        )
    if crop_border:
        window = (slice(crop_border, -crop_border),) * 2
        reference, image = reference[window], image[window]
    return reference, image


def psnr(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)`` (higher is better).

    Parameters
    ----------
    reference, image : (H, W) float arrays, values spanning at most ``data_range``.
    data_range : float
        Span of possible pixel values (1.0 for [0, 1] images).
    crop_border : int
        Pixels removed from each side before comparing.

    Returns
    -------
    float
        PSNR in dB; ``inf`` for identical images (MSE 0), never a division warning.
    """
    reference, image = _prepare(reference, image, data_range, crop_border)
    if np.array_equal(reference, image):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, image, data_range=data_range))


def ssim(
    reference: np.ndarray,
    image: np.ndarray,
    *,
    data_range: float,
    gaussian_weights: bool = True,
    crop_border: int = 0,
) -> float:
    """Mean structural similarity (Wang et al. 2004) in [-1, 1] (higher is better, 1 when identical).

    ``gaussian_weights=True`` (default) uses an 11x11 Gaussian window with sigma 1.5, population
    covariances and K1=0.01, K2=0.03: the paper's setting and the one BasicSR's ``calculate_ssim``
    implements, so with the same ``crop_border`` the numbers match BasicSR's Y-channel SSIM on grayscale
    images.  ``gaussian_weights=False`` is scikit-image's default (7x7 uniform window, sample
    covariances).  The mean is over the SSIM map without the half-window border, as in both libraries.

    Parameters
    ----------
    reference, image : (H, W) float arrays, at least 11 (or 7) pixels per side after cropping.
    data_range : float
        Span of possible pixel values (1.0 for [0, 1] images).
    gaussian_weights : bool
        Gaussian 11x11 window (True) or uniform 7x7 window (False).
    crop_border : int
        Pixels removed from each side before comparing.
    """
    window = _SSIM_WINDOW[bool(gaussian_weights)]
    reference, image = _prepare(reference, image, data_range, crop_border, min_side=window)
    if gaussian_weights:
        value = structural_similarity(
            reference,
            image,
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    else:
        value = structural_similarity(reference, image, data_range=data_range)
    return float(value)


def mse(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Mean squared error in squared pixel units (lower is better, 0 when identical).

    ``data_range`` is only used to check the values; the error is not normalised by it.
    """
    reference, image = _prepare(reference, image, data_range, crop_border)
    return float(mean_squared_error(reference, image))


def mae(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Mean absolute error in pixel units (lower is better, 0 when identical).

    Hand-written: scikit-image has no MAE.  ``data_range`` is only used to check the values.
    """
    reference, image = _prepare(reference, image, data_range, crop_border)
    return float(np.mean(np.abs(reference - image)))


# Prewitt kernels divided by 3 and the stability constant T = 170 for [0, 255] images (Xue et al. 2014).
_PREWITT_X = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0
_GMSD_CONSTANT = 170.0


def gmsd(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Gradient magnitude similarity deviation (Xue et al. 2014; lower is better, 0 when identical).

    Hand-written (about ten lines; neither scikit-image nor scipy has it), following the authors'
    reference MATLAB code: both images are scaled to [0, 255] via ``data_range``, smoothed by a 2x2 mean
    and downsampled by 2, Prewitt gradient magnitudes are compared pixel-wise as
    ``(2 g_r g_i + T) / (g_r^2 + g_i^2 + T)`` with ``T = 170``, and the score is the standard deviation
    (ddof=1, MATLAB's ``std2``) of that similarity map.  Zero padding at the borders as MATLAB's
    ``conv2(..., 'same')``.

    Parameters
    ----------
    reference, image : (H, W) float arrays, at least 4 pixels per side after cropping.
    data_range : float
        Span of possible pixel values (1.0 for [0, 1] images).
    crop_border : int
        Pixels removed from each side before comparing.
    """
    reference, image = _prepare(reference, image, data_range, crop_border, min_side=4)
    magnitudes = []
    for array in (reference, image):
        scaled = array * (255.0 / data_range)
        # MATLAB's conv2(Y, ones(2)/4, 'same') puts the 2x2 window at offsets (0, +1): origin -1 here.
        smoothed = ndimage.uniform_filter(scaled, size=2, mode="constant", origin=-1)[::2, ::2]
        # ndimage.correlate with the flipped kernel is convolution, as conv2 in the reference code.
        gx = ndimage.convolve(smoothed, _PREWITT_X, mode="constant")
        gy = ndimage.convolve(smoothed, _PREWITT_X.T, mode="constant")
        magnitudes.append(np.hypot(gx, gy))
    g_ref, g_img = magnitudes
    similarity = (2 * g_ref * g_img + _GMSD_CONSTANT) / (g_ref**2 + g_img**2 + _GMSD_CONSTANT)
    return float(np.std(similarity, ddof=1))
