"""Independent reference implementations of every image-quality metric, one (H, W) float64 pair a call.

They are what the tests check ``measure_quality_batch`` against and what the benchmarks time it
against (a per-image loop of the field's own code): scikit-image for PSNR, SSIM (Gaussian window,
sigma 1.5, population covariance: Wang et al.) and MSE; NumPy for MAE (scikit-image has none);
pytorch_msssim for MS-SSIM (imported on first use: it is in the ``dev`` extra); a line-by-line
transcription of Ravishankar & Bresler's MATLAB HFEN; and the per-image ``gmsd`` (itself checked against
a port of the authors' MATLAB code in tests/metrics/test_metrics_image_quality.py).  All take data_range 1.0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from benchmark.metrics.image_quality import gmsd


def fspecial_log(size: int = 15, sigma: float = 1.5) -> np.ndarray:
    """MATLAB fspecial('log', size, sigma), line by line."""
    half = (size - 1) / 2
    x, y = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1))
    h = np.exp(-(x * x + y * y) / (2 * sigma**2))
    h[h < np.finfo(float).eps * h.max()] = 0
    h = h / h.sum()
    h1 = h * (x * x + y * y - 2 * sigma**2) / sigma**4
    return h1 - h1.sum() / h1.size


_LOG_KERNEL = fspecial_log()


def hfen_matlab(reference: np.ndarray, image: np.ndarray) -> float:
    """norm(imfilter(image, h) - imfilter(reference, h), 'fro') / norm(imfilter(reference, h), 'fro').

    imfilter correlates with zero padding and 'same' output: ``ndimage.correlate(mode="constant")``.
    """
    log_reference = ndimage.correlate(reference, _LOG_KERNEL, mode="constant")
    log_image = ndimage.correlate(image, _LOG_KERNEL, mode="constant")
    return float(np.linalg.norm(log_image - log_reference) / np.linalg.norm(log_reference))


def ms_ssim_pytorch(reference: np.ndarray, image: np.ndarray) -> float:
    """pytorch_msssim's ``ms_ssim`` with the float64 window of Wang et al.'s Gaussian.

    pytorch_msssim builds its default window in float32 (a 6e-7 change of MS-SSIM on X-rays).
    """
    import torch
    from pytorch_msssim import ms_ssim

    taps = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    window = torch.from_numpy(taps / taps.sum())[None, None, None]
    pair = [torch.from_numpy(array)[None, None] for array in (reference, image)]
    return float(ms_ssim(*pair, data_range=1.0, win=window))


REFERENCES = {
    "psnr": lambda reference, image: peak_signal_noise_ratio(reference, image, data_range=1.0),
    "ssim": lambda reference, image: structural_similarity(
        reference, image, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    ),
    "mse": mean_squared_error,
    "mae": lambda reference, image: float(np.mean(np.abs(reference - image))),
    "gmsd": lambda reference, image: gmsd(reference, image, data_range=1.0),
    "ms_ssim": ms_ssim_pytorch,
    "hfen": hfen_matlab,
}
