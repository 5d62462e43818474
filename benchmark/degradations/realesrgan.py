"""Real-ESRGAN's second-order (high-order) degradation pipeline, for grayscale images.

Source: Wang, Xie, Dong, Shan, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data", ICCVW 2021; ranges from ``options/train_realesrgan_x4plus.yml`` and the order of
operations from ``RealESRGANModel.feed_data`` / ``RealESRGANDataset`` (github.com/xinntao/Real-ESRGAN).

Deviations, all documented where they happen:

- Resizes use the antialiased Pillow filters of ``resize.py`` (area / bilinear / bicubic, uniformly),
  where PyTorch's ``interpolate`` does not antialias bilinear/bicubic shrinking.
- JPEG is libjpeg at an integer quality (Real-ESRGAN: differentiable JPEG at a real quality).
- Gray-noise probabilities are dropped: on one-channel images colour and gray noise are the same.
- The HR image is not unsharp-masked first (Real-ESRGAN sharpens its training targets; that is a
  training choice for ``sr_models``, not part of the degradation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.degradations.checks import (
    check_distribution,
    check_hr,
    check_probability,
    check_range,
    finish,
)
from benchmark.degradations.jpeg import jpeg_roundtrip, sample_quality
from benchmark.degradations.kernels import (
    KERNEL_TYPES,
    circular_lowpass_kernel,
    filter2d,
    random_mixed_kernel,
)
from benchmark.degradations.noise import add_gaussian_noise, add_poisson_noise
from benchmark.degradations.registry import DEGRADATIONS
from benchmark.degradations.resize import RESIZE_METHODS, resize

KERNEL_SIZES = tuple(range(7, 22, 2))  # Real-ESRGAN draws odd kernel sizes 7..21 uniformly
_DEFAULT_KERNEL_PROB = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


@dataclass(frozen=True)
class _Stage:
    """The validated settings of one degradation order."""

    kernel_prob: np.ndarray
    blur_sigma: tuple[float, float]
    betag_range: tuple[float, float]
    betap_range: tuple[float, float]
    sinc_prob: float
    resize_prob: np.ndarray
    resize_range: tuple[float, float]
    gaussian_noise_prob: float
    noise_range: tuple[float, float]
    poisson_scale_range: tuple[float, float]
    jpeg_range: tuple[float, float]


def _stage(settings: dict, suffix: str) -> _Stage:
    """Validate one stage's settings, read from the arguments named ``<setting><suffix>``."""

    def checked(check, key: str, *bounds):
        return check(key + suffix, settings[key + suffix], *bounds)

    return _Stage(
        kernel_prob=checked(check_distribution, "kernel_prob", len(KERNEL_TYPES)),
        blur_sigma=checked(check_range, "blur_sigma", 1e-3, 20.0),
        betag_range=checked(check_range, "betag_range", 0.05, 20.0),
        betap_range=checked(check_range, "betap_range", 0.05, 20.0),
        sinc_prob=checked(check_probability, "sinc_prob"),
        resize_prob=checked(check_distribution, "resize_prob", 3),
        resize_range=checked(check_range, "resize_range", 0.01, 4.0),
        gaussian_noise_prob=checked(check_probability, "gaussian_noise_prob"),
        noise_range=checked(check_range, "noise_range", 0.0, 255.0),
        poisson_scale_range=checked(check_range, "poisson_scale_range", 0.0, 20.0),
        jpeg_range=checked(check_range, "jpeg_range", 1, 100),
    )


def _random_kernel(rng: np.random.Generator, stage: _Stage) -> np.ndarray:
    size = int(rng.choice(KERNEL_SIZES))
    if rng.uniform() < stage.sinc_prob:
        # Real-ESRGAN: small sinc kernels keep a higher minimum cutoff.
        cutoff = rng.uniform(np.pi / 3 if size < 13 else np.pi / 5, np.pi)
        return circular_lowpass_kernel(cutoff, size)
    return random_mixed_kernel(
        rng, size, stage.kernel_prob, stage.blur_sigma, stage.betag_range, stage.betap_range
    )


def _random_resize(
    img: np.ndarray, rng: np.random.Generator, base: tuple[int, int], stage: _Stage
) -> np.ndarray:
    """Resize to ``base`` times a factor drawn up (> 1) / down (< 1) / keep (= 1)."""
    low, high = stage.resize_range
    direction = rng.choice(3, p=stage.resize_prob)  # 0 up, 1 down, 2 keep
    factor = (rng.uniform(1.0, max(high, 1.0)), rng.uniform(min(low, 1.0), 1.0), 1.0)[direction]
    shape = (max(1, int(base[0] * factor)), max(1, int(base[1] * factor)))
    return resize(img, shape, RESIZE_METHODS[rng.choice(len(RESIZE_METHODS))])


def _random_noise(img: np.ndarray, rng: np.random.Generator, stage: _Stage) -> np.ndarray:
    if rng.uniform() < stage.gaussian_noise_prob:
        return add_gaussian_noise(img, rng.uniform(*stage.noise_range) / 255.0, rng)
    return add_poisson_noise(img, rng.uniform(*stage.poisson_scale_range), rng)


def _random_jpeg(img: np.ndarray, rng: np.random.Generator, stage: _Stage) -> np.ndarray:
    return jpeg_roundtrip(img, sample_quality(rng, stage.jpeg_range))


@DEGRADATIONS.register("realesrgan")
def degrade_realesrgan(
    hr: np.ndarray,
    scale: int,
    rng: np.random.Generator,
    *,
    kernel_prob: Sequence[float] = _DEFAULT_KERNEL_PROB,
    blur_sigma: Sequence[float] = (0.2, 3.0),
    betag_range: Sequence[float] = (0.5, 4.0),
    betap_range: Sequence[float] = (1.0, 2.0),
    sinc_prob: float = 0.1,
    resize_prob: Sequence[float] = (0.2, 0.7, 0.1),
    resize_range: Sequence[float] = (0.15, 1.5),
    gaussian_noise_prob: float = 0.5,
    noise_range: Sequence[float] = (1.0, 30.0),
    poisson_scale_range: Sequence[float] = (0.05, 3.0),
    jpeg_range: Sequence[float] = (30, 95),
    second_blur_prob: float = 0.8,
    kernel_prob2: Sequence[float] = _DEFAULT_KERNEL_PROB,
    blur_sigma2: Sequence[float] = (0.2, 1.5),
    betag_range2: Sequence[float] = (0.5, 4.0),
    betap_range2: Sequence[float] = (1.0, 2.0),
    sinc_prob2: float = 0.1,
    resize_prob2: Sequence[float] = (0.3, 0.4, 0.3),
    resize_range2: Sequence[float] = (0.3, 1.2),
    gaussian_noise_prob2: float = 0.5,
    noise_range2: Sequence[float] = (1.0, 25.0),
    poisson_scale_range2: Sequence[float] = (0.05, 2.5),
    jpeg_range2: Sequence[float] = (30, 95),
    final_sinc_prob: float = 0.8,
) -> np.ndarray:
    """Real-ESRGAN second-order degradation: (blur, resize, noise, JPEG) twice, then final sinc.

    Source: Real-ESRGAN (Wang et al., ICCVW 2021), see the module docstring; parameter names and
    defaults are those of ``train_realesrgan_x4plus.yml`` (suffix 2 = second order).

    Order: blur (kernel of ``KERNEL_TYPES`` with ``kernel_prob``, or a sinc with ``sinc_prob``, size
    7..21) -> resize by a factor drawn up/down/keep with ``resize_prob`` from ``resize_range`` ->
    Gaussian noise (``gaussian_noise_prob``) or Poisson noise -> JPEG; then the same with the ``2``
    settings (blur only with ``second_blur_prob``; the resize factor is relative to the LR size);
    then, in random order (50/50), [resize to LR + final sinc (``final_sinc_prob``)] and [JPEG with
    ``jpeg_range2``]; finally 8-bit rounding.

    Parameters
    ----------
    hr : (H, W) float32 in [0, 1], H and W divisible by ``scale``.
    scale : 2, 4 or 8.
    rng : source of every draw.
    kernel_prob, kernel_prob2 : 6 probabilities of iso, aniso, generalized_iso, generalized_aniso,
        plateau_iso, plateau_aniso kernels (sum 1).
    blur_sigma, blur_sigma2 : (lo, hi) kernel sigma in pixels of the image blurred, within [0.001, 20].
    betag_range, betag_range2 : (lo, hi) generalized-Gaussian shape, within [0.05, 20].
    betap_range, betap_range2 : (lo, hi) plateau shape, within [0.05, 20].
    sinc_prob, sinc_prob2, second_blur_prob, final_sinc_prob : probabilities in [0, 1].
    resize_prob, resize_prob2 : 3 probabilities of up / down / keep (sum 1).
    resize_range, resize_range2 : (lo, hi) resize factor, within [0.01, 4]; "up" draws from [1, hi],
        "down" from [lo, 1].
    gaussian_noise_prob, gaussian_noise_prob2 : probability of Gaussian (else Poisson) noise.
    noise_range, noise_range2 : (lo, hi) Gaussian sigma on the 0-255 scale, within [0, 255].
    poisson_scale_range, poisson_scale_range2 : (lo, hi) Poisson noise scale, within [0, 20]
        (see ``noise.add_poisson_noise``).
    jpeg_range, jpeg_range2 : (lo, hi) JPEG quality, integers within [1, 100].

    Returns
    -------
    (H // scale, W // scale) float32 in [0, 1], on the 8-bit grid.
    """
    settings = dict(locals())  # every argument by name, so both stages are validated by one function
    first, second = _stage(settings, ""), _stage(settings, "2")
    second_blur_prob = check_probability("second_blur_prob", second_blur_prob)
    final_sinc_prob = check_probability("final_sinc_prob", final_sinc_prob)
    hr = check_hr(hr, scale)
    lr_shape = (hr.shape[0] // scale, hr.shape[1] // scale)

    out = filter2d(hr, _random_kernel(rng, first))
    out = _random_resize(out, rng, out.shape, first)
    out = _random_jpeg(_random_noise(out, rng, first), rng, first)

    if rng.uniform() < second_blur_prob:
        out = filter2d(out, _random_kernel(rng, second))
    out = _random_resize(out, rng, lr_shape, second)
    out = _random_noise(out, rng, second)

    def resize_and_sinc(img: np.ndarray) -> np.ndarray:
        img = resize(img, lr_shape, RESIZE_METHODS[rng.choice(len(RESIZE_METHODS))])
        if rng.uniform() < final_sinc_prob:
            size = int(rng.choice(KERNEL_SIZES))
            img = filter2d(img, circular_lowpass_kernel(rng.uniform(np.pi / 3, np.pi), size))
        return img

    if rng.uniform() < 0.5:
        out = _random_jpeg(np.clip(resize_and_sinc(out), 0.0, 1.0), rng, second)
    else:
        out = resize_and_sinc(_random_jpeg(out, rng, second))
    return finish(np.round(np.clip(out, 0.0, 1.0) * 255.0) / 255.0, lr_shape)
