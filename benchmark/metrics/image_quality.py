"""Full-reference image-quality metrics of one image against its HR reference.

Every metric is a pure function ``metric(reference, image, *, data_range, crop_border=0) -> float`` on
two (H, W) grayscale arrays.  Conventions:

- ``data_range`` is required (the span the pixel values can take, 1.0 for the benchmark's [0, 1]
  float32 images) because guessing it from the data silently changes PSNR/SSIM.
- ``crop_border`` pixels are removed from every side of both images first, as BasicSR does to ignore
  the border an upscaler cannot reconstruct (0 unless the suite says otherwise).
- Values are computed in float64 and follow scikit-image (``skimage.metrics``); ``ssim`` is the
  Gaussian-window variant of Wang et al. 2004, which is also what BasicSR reports (see ``ssim``).
- ``ms_ssim`` and ``hfen`` exist only in batched form (``benchmark.metrics.batch``) and call it on one
  image; the pipeline computes every metric with ``measure_quality_batch``, which equals these
  functions within 1e-6 and also offers BasicSR's uint8 convention.
- LPIPS is not provided (it needs learned weights; see the project README).
"""

from __future__ import annotations

from math import inf

import numpy as np

from benchmark.metrics import batch
from benchmark.metrics.checks import prepare
from benchmark.metrics.spec import image_quality_metric

# scikit-image and scipy are imported inside the functions: the metric table (this module's specs) is
# read by `list` and the suite check, which compute nothing.

# Side of the SSIM window: 11 for the Gaussian window (sigma 1.5, truncated at 3.5 sigma), 7 otherwise.
_SSIM_WINDOW = {True: 11, False: 7}


@image_quality_metric(
    "psnr", label="PSNR (dB)", higher_is_better=True, bounds=(0.0, inf), batched=batch._psnr
)
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
    from skimage.metrics import peak_signal_noise_ratio

    reference, image = prepare(reference, image, data_range, crop_border)
    if np.array_equal(reference, image):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, image, data_range=data_range))


@image_quality_metric(
    "ssim", label="SSIM", higher_is_better=True, bounds=(-1.0, 1.0), batched=batch._ssim, min_side=11
)
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
    from skimage.metrics import structural_similarity

    window = _SSIM_WINDOW[bool(gaussian_weights)]
    reference, image = prepare(reference, image, data_range, crop_border, min_side=window)
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


@image_quality_metric("mse", label="MSE", higher_is_better=False, bounds=(0.0, inf), batched=batch._mse)
def mse(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Mean squared error in squared pixel units (lower is better, 0 when identical).

    ``data_range`` is only used to check the values; the error is not normalised by it.
    """
    from skimage.metrics import mean_squared_error

    reference, image = prepare(reference, image, data_range, crop_border)
    return float(mean_squared_error(reference, image))


@image_quality_metric("mae", label="MAE", higher_is_better=False, bounds=(0.0, inf), batched=batch._mae)
def mae(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Mean absolute error in pixel units (lower is better, 0 when identical).

    Hand-written: scikit-image has no MAE.  ``data_range`` is only used to check the values.
    """
    reference, image = prepare(reference, image, data_range, crop_border)
    return float(np.mean(np.abs(reference - image)))


# Prewitt kernels divided by 3 and the stability constant T = 170 for [0, 255] images (Xue et al. 2014).
_PREWITT_X = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0
_GMSD_CONSTANT = 170.0


@image_quality_metric(
    "gmsd",
    label="GMSD",
    higher_is_better=False,
    bounds=(0.0, inf),
    batched=batch._gmsd,
    min_side=4,
    listed_first=False,
)
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
    from scipy import ndimage

    reference, image = prepare(reference, image, data_range, crop_border, min_side=4)
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


@image_quality_metric(
    "ms_ssim",
    label="MS-SSIM",
    higher_is_better=True,
    bounds=(0.0, 1.0),
    batched=batch._ms_ssim,
    min_side=161,
    listed_first=False,
)
def ms_ssim(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003) in [0, 1] (higher is better, 1 when identical).

    Five scales with the paper's weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), the SSIM window and
    constants of ``ssim`` at every scale, 2x2 mean pooling between scales; the product of the mean
    contrast-structure terms of scales 1-4 and the mean SSIM of scale 5, each clipped at 0 and raised
    to its weight.  This is pytorch_msssim's ``ms_ssim`` (odd sides padded as its ``avg_pool2d``), the
    independent implementation the tests check it against; scikit-image has no MS-SSIM.

    Parameters
    ----------
    reference, image : (H, W) float arrays, more than 160 pixels per side after cropping (as
        pytorch_msssim requires for four halvings of an 11-pixel window).
    data_range, crop_border : as ``ssim``.
    """
    reference, image = prepare(reference, image, data_range, crop_border, min_side=161)
    return _batched("ms_ssim", reference, image, data_range)


@image_quality_metric(
    "hfen", label="HFEN", higher_is_better=False, bounds=(0.0, inf), batched=batch._hfen, listed_first=False
)
def hfen(reference: np.ndarray, image: np.ndarray, *, data_range: float, crop_border: int = 0) -> float:
    """High-frequency error norm (Ravishankar & Bresler 2011; lower is better, 0 when identical).

    ``||LoG(image) - LoG(reference)||_2 / ||LoG(reference)||_2`` with the authors' filter, MATLAB's
    ``imfilter(x, fspecial('log', 15, 1.5))``: a 15x15 Laplacian of Gaussian with sigma 1.5 made to sum
    to zero, correlation with zero padding, 'same' size; Frobenius norms over the whole image.  A ratio,
    so it does not depend on ``data_range`` (used only to check the values).  Hand-written: neither
    scikit-image nor scipy has it; the tests check it against a direct 15x15 transcription.
    """
    reference, image = prepare(reference, image, data_range, crop_border)
    return _batched("hfen", reference, image, data_range)


def _batched(name: str, reference: np.ndarray, image: np.ndarray, data_range: float) -> float:
    """One image through ``measure_quality_batch`` (the metrics that exist only in batched form)."""
    values = batch.measure_quality_batch(reference[None], image[None], [name], data_range=data_range)
    return float(values[name][0])
