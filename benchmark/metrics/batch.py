"""Image-quality metrics of a whole (N, H, W) stack at once: ``measure_quality_batch``.

The values are those of the per-image functions in ``benchmark.metrics.image_quality`` (and so of
scikit-image, pytorch_msssim and the authors' reference code, which the tests check) within 1e-6,
several times faster: the windowed means of SSIM, MS-SSIM and HFEN are banded matrix products over the
whole stack (``benchmark.metrics.filters``) instead of one ``scipy.ndimage`` call per map and image.

SSIM, MS-SSIM and HFEN filter in float32 (SSIM in the sum/difference form of ``_ssim_means``, which
keeps the second moments small): against the float64 references the error is below 1e-7 on real
X-rays (the tests hold it to 1e-6).  Errors, means and norms are accumulated in float64.  Images are
processed one at a time: the matrix products' rounding depends on their shapes, so filtering several
images together made an image's last bits depend on its neighbours in the call, and a sharded or
resumed run differed from an uninterrupted one.  One at a time, every value is the same whatever the
batch (the working set of a 512 px image still fits the CPU cache).

LPIPS (``benchmark.metrics.lpips``) runs its AlexNet on each pair in torch; it needs the weight files
(``lpips_weights=``), which the user provides.

Conventions (``convention=``):

- ``"skimage"`` (default): the float images as given, ``data_range`` 1.0 for [0, 1] images.
- ``"basicsr"``: BasicSR's ``calculate_psnr`` / ``calculate_ssim`` on grayscale images: each image is
  clipped to [0, data_range] and rounded to the nearest of 256 levels (``uint8``, as BasicSR's
  ``tensor2img`` and its PNG files) before every metric.  BasicSR also crops ``crop_border = scale``
  pixels per side; the caller passes that (the pipeline does so for this convention).
"""

from __future__ import annotations

import functools

import numpy as np
from threadpoolctl import ThreadpoolController

from benchmark.metrics.checks import prepare
from benchmark.metrics.filters import correlate_valid, gaussian_taps, interleave
from benchmark.metrics.spec import IMAGE_QUALITY, lookup

CONVENTIONS = ("skimage", "basicsr")
# Wang et al. 2004 / 2003 constants and the MS-SSIM scale weights of Wang, Simoncelli & Bovik 2003.
_K1, _K2 = 0.01, 0.03
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_TAPS = gaussian_taps(11, 1.5)
# GMSD's stability constant for [0, 255] images (Xue et al. 2014).
_GMSD_CONSTANT = 170.0
# HFEN's Laplacian of Gaussian: MATLAB fspecial('log', 15, 1.5), as Ravishankar & Bresler 2011.
HFEN_SIZE, HFEN_SIGMA = 15, 1.5
# Pixels per chunk: one 512x512 image; larger chunks leave the CPU cache and run slower.


def _ssim_means(reference: np.ndarray, image: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-image means of the SSIM map and of its contrast-structure part over the 'valid' region.

    Uses t = x + y - data_range and d = x - y, whose filtered values and squares give every SSIM term
    with four filters instead of five: 2 mu_x mu_y = (mu_t'^2 - mu_d^2) / 2 with mu_t' = mu_t +
    data_range, mu_x^2 + mu_y^2 = (mu_t'^2 + mu_d^2) / 2, 2 sigma_xy = (var_t - var_d) / 2 and
    sigma_x^2 + sigma_y^2 = (var_t + var_d) / 2.  Centering t keeps its square small in float32.  Both
    SSIM fractions are used with numerator and denominator doubled (exact in binary), which saves the
    halvings; the maps are updated in place to keep the float32 working set in the CPU cache.
    """
    # (H, N, W) views of the images, written straight into the row-interleaved stack of the four maps.
    x = np.swapaxes(reference, 0, 1).astype(np.float32, copy=False)
    y = np.swapaxes(image, 0, 1).astype(np.float32, copy=False)
    height, count, width = x.shape
    stack = np.empty((height, 4, count, width), dtype=np.float32)
    total, difference, total_squared, difference_squared = (stack[:, map_index] for map_index in range(4))
    np.add(x, y, out=total)
    total -= np.float32(data_range)
    np.subtract(x, y, out=difference)
    np.multiply(total, total, out=total_squared)
    np.multiply(difference, difference, out=difference_squared)
    maps = correlate_valid(stack.reshape(height, 4 * count, width), _SSIM_TAPS.astype(np.float32))
    mean_t, mean_d, var_t, var_d = maps.reshape((4, count) + maps.shape[1:])
    c1, c2 = np.float32(2 * (_K1 * data_range) ** 2), np.float32(2 * (_K2 * data_range) ** 2)
    squared = np.multiply(mean_t, mean_t)
    var_t -= squared
    np.multiply(mean_d, mean_d, out=squared)  # mu_d^2 from here on
    var_d -= squared
    contrast_structure = np.subtract(var_t, var_d)  # (4 sigma_xy + 2 c2) / (2 (sigma_x^2 + sigma_y^2) + 2 c2)
    contrast_structure += c2
    var_t += var_d
    var_t += c2
    contrast_structure /= var_t
    mean_t += np.float32(data_range)
    mean_t *= mean_t
    ssim_map = np.subtract(mean_t, squared, out=var_d)  # (4 mu_x mu_y + 2 c1) / (2 (mu_x^2 + mu_y^2) + 2 c1)
    ssim_map += c1
    mean_t += squared
    mean_t += c1
    ssim_map /= mean_t
    ssim_map *= contrast_structure
    return _map_mean(ssim_map), _map_mean(contrast_structure)


def _map_mean(maps: np.ndarray) -> np.ndarray:
    """(N, H, W) maps -> (N,) float64 means: row sums in the maps' dtype (a BLAS product), float64 total.

    A row of a few hundred float32 values sums within ~1e-7 relative; the float64 total of the row sums
    then keeps the mean within ~1e-8, four times faster than a float64 mean of the whole map.
    """
    rows = maps @ np.ones(maps.shape[-1], dtype=maps.dtype)
    return rows.sum(axis=-1, dtype=np.float64) / (maps.shape[-2] * maps.shape[-1])


def _halve(stack: np.ndarray, odd_pad: str) -> np.ndarray:
    """2x2 mean pooling of the last two axes; an odd side gets one zero row/column at ``odd_pad``."""
    if any(side % 2 for side in stack.shape[-2:]):
        pads = [(0, 0)] * (stack.ndim - 2)
        pads += [((side % 2, 0) if odd_pad == "front" else (0, side % 2)) for side in stack.shape[-2:]]
        stack = np.pad(stack, pads)
    top, bottom = stack[..., 0::2, :], stack[..., 1::2, :]
    pairs = np.add(top, bottom, dtype=np.float64)  # four strided adds beat a mean over split axes
    return (pairs[..., 0::2] + pairs[..., 1::2]) * 0.25


def _difference(reference, image) -> np.ndarray:
    """image - reference in the input dtype, one row per image.

    For float32 input the float32 difference is within 2^-24 (relative) of the exact one, so MSE is
    within 1.2e-7 relative and PSNR within 5.2e-7 dB of the float64 values, and twice as fast.
    """
    return np.subtract(image, reference).reshape(len(image), -1)


def _psnr(reference, image, data_range):
    squared = _mse(reference, image, data_range)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range**2 / squared)


def _mse(reference, image, data_range):
    difference = _difference(reference, image).astype(np.float64)
    # float32 differences square exactly in float64; a batched dot product is the fastest sum of squares.
    rows = difference[:, None, :] @ difference[:, :, None]
    return rows[:, 0, 0] / difference.shape[1]


def _mae(reference, image, data_range):
    difference = np.subtract(image, reference)
    return _map_mean(np.abs(difference, out=difference))


def _ssim(reference, image, data_range):
    return _ssim_means(reference, image, data_range)[0]


def _ms_ssim(reference, image, data_range):
    """Wang et al. 2003 as pytorch_msssim: product over 5 scales of relu(mean cs)^w, relu(SSIM)^w last.

    Between scales both images are 2x2-mean pooled; an odd side is first padded with one leading zero
    (``avg_pool2d(padding=1)``, zeros counted), as pytorch_msssim does.
    """
    value = np.ones(reference.shape[0])
    for level, weight in enumerate(MS_SSIM_WEIGHTS):
        ssim_mean, cs_mean = _ssim_means(reference, image, data_range)
        if level == len(MS_SSIM_WEIGHTS) - 1:
            return value * np.maximum(ssim_mean, 0.0) ** weight
        value *= np.maximum(cs_mean, 0.0) ** weight
        reference, image = _halve(reference, "front"), _halve(image, "front")


def _gradient_magnitude(stack: np.ndarray) -> np.ndarray:
    """Prewitt gradient magnitude (kernels / 3, zero padding, MATLAB ``conv2(..., 'same')``)."""
    padded = np.pad(stack, [(0, 0)] * (stack.ndim - 2) + [(1, 1), (1, 1)])
    vertical = padded[..., :-2, :] + padded[..., 1:-1, :] + padded[..., 2:, :]
    horizontal = padded[..., :-2] + padded[..., 1:-1] + padded[..., 2:]
    # conv2 flips the kernel [1 0 -1]: the right neighbour minus the left one (and below minus above).
    gx = (vertical[..., 2:] - vertical[..., :-2]) / 3.0
    gy = (horizontal[..., 2:, :] - horizontal[..., :-2, :]) / 3.0
    return np.sqrt(gx * gx + gy * gy)  # not np.hypot: ten times slower, equal within 1 ulp here


def _gmsd(reference, image, data_range):
    """GMSD as ``image_quality.gmsd``: 2x2 mean and downsampling, Prewitt magnitudes, std of similarity."""
    scale = 255.0 / data_range
    g_ref = _gradient_magnitude(_halve(reference, "back") * scale)
    g_img = _gradient_magnitude(_halve(image, "back") * scale)
    similarity = (2 * g_ref * g_img + _GMSD_CONSTANT) / (g_ref**2 + g_img**2 + _GMSD_CONSTANT)
    return np.std(similarity, axis=(-2, -1), ddof=1)


def _log_terms() -> tuple[tuple[np.ndarray, np.ndarray, float], ...]:
    """fspecial('log', 15, 1.5) as separable terms (row taps, column taps, factor) to be summed.

    fspecial's kernel is h1 - mean(h1) with h1 = g(a) g(b) (a^2 + b^2 - 2 s^2) / s^4, g the normalised
    Gaussian over offsets a, b in -7..7: so h1 = [q (x) g + g (x) (q - 2 s^2 g)] / s^4 with q = g a^2,
    and the mean is a box filter.  (fspecial zeroes taps below eps * max; none are that small here.)
    """
    offsets = np.arange(HFEN_SIZE, dtype=np.float64) - HFEN_SIZE // 2
    gauss = gaussian_taps(HFEN_SIZE, HFEN_SIGMA)
    variance = HFEN_SIGMA**2
    weighted = gauss * offsets**2
    mean_h1 = (2 * (weighted.sum() * gauss.sum()) - 2 * variance * gauss.sum() ** 2) / (
        variance**2 * HFEN_SIZE**2
    )
    ones = np.ones(HFEN_SIZE)
    return (
        (weighted, gauss, 1 / variance**2),
        (gauss, weighted - 2 * variance * gauss, 1 / variance**2),
        (ones, ones, -mean_h1),
    )


def laplacian_of_gaussian(*stacks: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(image, fspecial('log', 15, 1.5))`` (zero padding, 'same') of every image.

    Parameters
    ----------
    stacks : (N, H, W) arrays.

    Returns
    -------
    (len(stacks) * N, H, W) float32 array, the images of the first stack first.
    """
    padded = interleave(*stacks, pad=HFEN_SIZE // 2)
    return sum(
        np.float32(factor) * correlate_valid(padded, rows.astype(np.float32), cols.astype(np.float32))
        for rows, cols, factor in _log_terms()
    )


def _hfen(reference, image, data_range):
    """||LoG(image) - LoG(reference)|| / ||LoG(reference)||; LoG is linear: one filter of the difference.

    A reference without high frequencies (LoG 0 everywhere, e.g. all black) gives 0 for an image with
    none either (as for identical images) and inf otherwise, never NaN.
    """
    filtered = laplacian_of_gaussian(image - reference, reference)
    norms = np.sqrt(np.sum(np.square(filtered, dtype=np.float64), axis=(-2, -1)))
    error, scale = norms[: len(image)], norms[len(image) :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(error == 0, 0.0, error / scale)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """The process's thread pools, found once: finding them reads /proc/self/maps (ms per call)."""
    return ThreadpoolController()


def quantize_uint8(stack: np.ndarray, data_range: float) -> np.ndarray:
    """BasicSR's float -> uint8 step: clip to [0, data_range], round to 255 levels, back to float64."""
    return np.round(np.clip(stack / data_range, 0.0, 1.0) * 255.0) * (data_range / 255.0)


def _batched_functions(metrics: list[str], lpips_weights) -> dict:
    """name -> (function of (reference, image, data_range), least side), from each ``MetricSpec``; a
    metric that needs weights (LPIPS) is bound to its network here."""
    functions = {}
    for name in metrics:
        spec = lookup(name, IMAGE_QUALITY)
        functions[name] = (spec.batched_function(lpips_weights), spec.min_side)
    return functions


def measure_quality_batch(
    references: np.ndarray,
    images: np.ndarray,
    metrics: list[str],
    *,
    data_range: float = 1.0,
    crop_border: int = 0,
    convention: str = "skimage",
    lpips_weights=None,
) -> dict[str, np.ndarray]:
    """Image-quality metrics of every image of a stack against its reference.

    Parameters
    ----------
    references, images : (N, H, W) float arrays (float32 in [0, 1] in this project).
    metrics : names from ``IMAGE_QUALITY_METRICS`` (unknown names raise ``UserError``).
    data_range : span of possible pixel values (1.0 for [0, 1] images).
    crop_border : pixels removed from each side before comparing.
    convention : ``"skimage"`` or ``"basicsr"`` (see the module docstring).
    lpips_weights : the weight files of the metrics that need them (LPIPS: ``benchmark.metrics.lpips``);
        asking for ``lpips`` without them raises ``UserError``.

    Returns
    -------
    dict
        ``{name: (N,) float64 array}`` in the order of ``metrics``; equal to the per-image functions of
        ``benchmark.metrics.image_quality`` within 1e-6.
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"Expected convention to be one of {CONVENTIONS}, got {convention!r}.")
    functions = _batched_functions(metrics, lpips_weights)
    min_side = max((side for _, side in functions.values()), default=1)
    references, images = np.asarray(references), np.asarray(images)
    if references.ndim != 3 or references.shape != images.shape or not references.size:
        prepare(references, images, data_range, crop_border, min_side=min_side, ndim=3)  # raises why
    count = len(references)
    values = {name: np.empty(count) for name in functions}
    # One BLAS thread: the 16-row products are too small to share; with more threads they ran up to
    # five times slower on a busy 2-core machine (benchmarks/iq_metrics.py --threads 2).
    with _blas_controller().limit(limits=1, user_api="blas"):
        for index in range(count):
            window = slice(index, index + 1)
            reference, image = prepare(
                references[window],
                images[window],
                data_range,
                crop_border,
                min_side=min_side,
                ndim=3,
                keep_float32=True,
            )
            if convention == "basicsr":
                reference, image = quantize_uint8(reference, data_range), quantize_uint8(image, data_range)
            for name, (function, _) in functions.items():
                values[name][window] = function(reference, image, data_range)
    return values
