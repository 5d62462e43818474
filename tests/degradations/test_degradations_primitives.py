"""Building blocks of the degradations against independent references: kernels, resize, noise, JPEG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage, special, stats

from benchmark.degradations.jpeg import encode_jpeg, jpeg_roundtrip, sample_quality
from benchmark.degradations.kernels import (
    KERNEL_TYPES,
    circular_lowpass_kernel,
    filter2d,
    gaussian_kernel,
    generalized_gaussian_kernel,
    plateau_kernel,
    random_mixed_kernel,
)
from benchmark.degradations.noise import add_gaussian_noise, add_poisson_noise
from benchmark.degradations.resize import RESIZE_METHODS, downsample

# ITU-T T.81 Annex K, Table K.1 (luminance quantisation table), row by row.
ANNEX_K_LUMINANCE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ]
)


def _texture(size: int = 128, seed: int = 0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal((size, size)), 1.5)
    return np.clip(0.5 + 0.25 * np.sin(9 * x + 4 * y) + 0.5 * noise, 0, 1).astype(np.float32)


# --- kernels -------------------------------------------------------------------------------------


def test_anisotropic_gaussian_kernel_matches_scipy_multivariate_normal():
    sigma_x, sigma_y, theta = 3.0, 1.5, 0.6
    c, s = np.cos(theta), np.sin(theta)
    cov = [
        [sigma_x**2 * c**2 + sigma_y**2 * s**2, (sigma_x**2 - sigma_y**2) * c * s],
        [(sigma_x**2 - sigma_y**2) * c * s, sigma_x**2 * s**2 + sigma_y**2 * c**2],
    ]
    x, y = np.meshgrid(np.arange(-10, 11), np.arange(-10, 11))
    reference = stats.multivariate_normal(mean=[0, 0], cov=cov).pdf(np.dstack([x, y]))
    kernel = gaussian_kernel(21, sigma_x, sigma_y, theta)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(kernel, reference / reference.sum(), rtol=1e-9)


def test_anisotropic_gaussian_kernel_second_moments_equal_its_covariance():
    sigma_x, sigma_y, theta = 2.5, 1.0, -0.9
    kernel = gaussian_kernel(41, sigma_x, sigma_y, theta)
    x, y = np.meshgrid(np.arange(-20, 21), np.arange(-20, 21))
    c, s = np.cos(theta), np.sin(theta)
    assert (kernel * x).sum() == pytest.approx(0.0, abs=1e-12)
    assert (kernel * x * x).sum() == pytest.approx(sigma_x**2 * c**2 + sigma_y**2 * s**2, rel=1e-6)
    assert (kernel * y * y).sum() == pytest.approx(sigma_x**2 * s**2 + sigma_y**2 * c**2, rel=1e-6)
    assert (kernel * x * y).sum() == pytest.approx((sigma_x**2 - sigma_y**2) * c * s, rel=1e-6)


def test_isotropic_gaussian_kernel_is_the_outer_product_of_1d_gaussians():
    taps = stats.norm(scale=1.7).pdf(np.arange(-6, 7))
    reference = np.outer(taps, taps)
    np.testing.assert_allclose(gaussian_kernel(13, 1.7), reference / reference.sum(), rtol=1e-9)


@pytest.mark.parametrize("beta", [0.5, 1.0, 3.0])
def test_generalized_gaussian_kernel_follows_exp_of_powered_radius(beta):
    sigma = 2.0
    kernel = generalized_gaussian_kernel(15, sigma, sigma, 0.0, beta)
    x, y = np.meshgrid(np.arange(-7, 8), np.arange(-7, 8))
    np.testing.assert_allclose(kernel / kernel[7, 7], np.exp(-0.5 * ((x**2 + y**2) / sigma**2) ** beta))


def test_plateau_kernel_follows_its_formula():
    sigma, beta = 2.0, 1.5
    kernel = plateau_kernel(15, sigma, sigma, 0.0, beta)
    x, y = np.meshgrid(np.arange(-7, 8), np.arange(-7, 8))
    np.testing.assert_allclose(kernel / kernel[7, 7], 1 / (1 + ((x**2 + y**2) / sigma**2) ** beta))


@pytest.mark.parametrize("cutoff", [np.pi / 5, np.pi / 3, 2.0, np.pi])
def test_sinc_kernel_equals_the_circular_lowpass_formula(cutoff):
    size = 21
    kernel = circular_lowpass_kernel(cutoff, size)
    x, y = np.meshgrid(np.arange(size) - 10.0, np.arange(size) - 10.0)
    r = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    reference[10, 10] = cutoff**2 / (4 * np.pi)  # the r -> 0 limit
    reference /= reference.sum()
    for row, col in [(10, 10), (10, 11), (3, 17), (0, 0), (10, 0), (14, 6)]:
        assert kernel[row, col] == pytest.approx(reference[row, col], rel=1e-10, abs=1e-15)
    assert kernel.sum() == pytest.approx(1.0)


def test_sinc_kernel_passes_low_and_stops_high_frequencies():
    cutoff = np.pi / 3
    response = np.abs(np.fft.fftshift(np.fft.fft2(circular_lowpass_kernel(cutoff, 21), s=(256, 256))))
    omega = 2 * np.pi * (np.arange(256) - 128) / 256
    wx, wy = np.meshgrid(omega, omega)
    radius = np.hypot(wx, wy)
    # The continuous transform is the disk |w| < cutoff; 21 taps leave Gibbs ripples of ~10 %.
    assert response[128, 128] == pytest.approx(1.0)
    assert np.all(np.abs(response[radius < 0.6 * cutoff] - 1) < 0.15)
    assert np.all(response[(radius > 1.5 * cutoff) & (radius < np.pi)] < 0.1)


@pytest.mark.parametrize("kind", KERNEL_TYPES)
def test_random_kernels_are_normalised_centred_and_of_the_drawn_type(kind):
    probs = [1.0 if k == kind else 0.0 for k in KERNEL_TYPES]
    for seed in range(5):
        kernel = random_mixed_kernel(np.random.default_rng(seed), 15, probs, (0.5, 3), (0.5, 4), (1, 2))
        assert kernel.shape == (15, 15)
        assert kernel.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-15)  # point-symmetric
        if kind.split("_")[-1] == "iso":
            np.testing.assert_allclose(kernel, kernel.T, atol=1e-15)


def test_random_kernel_draws_are_reproducible_per_seed():
    args = (21, [0.45, 0.25, 0.12, 0.03, 0.12, 0.03], (0.2, 3), (0.5, 4), (1, 2))
    first = random_mixed_kernel(np.random.default_rng(7), *args)
    np.testing.assert_array_equal(first, random_mixed_kernel(np.random.default_rng(7), *args))


@pytest.mark.parametrize("shape", [(40, 33), (5, 5), (1, 4)])
def test_filter2d_equals_scipy_correlate_with_mirror_borders(shape):
    rng = np.random.default_rng(0)
    img, kernel = rng.random(shape), rng.random((9, 9))  # asymmetric kernel: correlation, not convolution
    np.testing.assert_allclose(
        filter2d(img, kernel), ndimage.correlate(img, kernel, mode="mirror"), atol=1e-5
    )


# --- resize --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", RESIZE_METHODS)
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_resizing_a_constant_image_gives_the_constant(method, scale):
    lr = downsample(np.full((64, 48), 0.37, np.float32), scale, method)
    np.testing.assert_allclose(lr, 0.37, atol=1e-6)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_area_downsampling_is_the_block_mean(scale):
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    reference = img.reshape(64 // scale, scale, 64 // scale, scale).mean(axis=(1, 3))
    np.testing.assert_allclose(downsample(img, scale, "area"), reference, atol=1e-6)


@pytest.mark.parametrize("method", RESIZE_METHODS)
@pytest.mark.parametrize("scale", [2, 4])
def test_downsampling_keeps_pixel_centres_aligned(method, scale):
    # A ramp is reproduced exactly away from borders; LR column j sits at HR coordinate (j + 0.5) s - 0.5.
    columns = np.arange(64, dtype=np.float32)
    lr = downsample(np.tile(columns / 64, (64, 1)), scale, method)
    expected = ((np.arange(64 // scale) + 0.5) * scale - 0.5) / 64
    np.testing.assert_allclose(lr[:, 2:-2], np.tile(expected[2:-2], (64 // scale, 1)), atol=1e-5)


@pytest.mark.parametrize("method", ["bicubic", "area"])
def test_downsampling_is_antialiased(method):
    checkerboard = (np.indices((64, 64)).sum(axis=0) % 2).astype(np.float32)
    np.testing.assert_allclose(downsample(checkerboard, 4, method)[2:-2, 2:-2], 0.5, atol=0.02)


# --- noise ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.01, 0.05])
def test_gaussian_noise_has_the_requested_sigma(sigma):
    noisy = add_gaussian_noise(np.full((256, 256), 0.5, np.float32), sigma, np.random.default_rng(0))
    residual = noisy.astype(np.float64) - 0.5
    assert residual.std() == pytest.approx(sigma, rel=0.02)
    assert abs(residual.mean()) < 4 * sigma / 256  # 4 standard errors
    assert noisy.dtype == np.float32


def test_gaussian_noise_is_clipped_to_unit_range():
    noisy = add_gaussian_noise(np.full((64, 64), 0.99, np.float32), 0.2, np.random.default_rng(0))
    assert noisy.min() >= 0 and noisy.max() == 1.0


def test_poisson_noise_variance_is_scale_squared_times_value_over_levels():
    # 128 distinct 8-bit values -> BasicSR takes 2**ceil(log2(128)) = 128 photon levels.
    values = np.arange(64, 192) / 255.0
    img = np.repeat(values, 2048).reshape(128, 2048)
    scale = 0.8
    noisy = add_poisson_noise(img, scale, np.random.default_rng(0)).astype(np.float64)
    z = (noisy - img) / np.sqrt(scale**2 * img / 128)
    assert z.var() == pytest.approx(1.0, rel=0.02)
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    per_row = (noisy - img).var(axis=1)  # variance grows linearly with the value (Poisson)
    assert np.polyfit(values, per_row, 1)[0] == pytest.approx(scale**2 / 128, rel=0.1)


def test_poisson_noise_on_a_flat_image_uses_one_level_as_basicsr_does():
    noisy = add_poisson_noise(np.full((256, 256), 0.5), 0.1, np.random.default_rng(0)).astype(np.float64)
    assert (noisy - 0.5).var() == pytest.approx(0.1**2 * 0.5, rel=0.03)


# --- JPEG ----------------------------------------------------------------------------------------


def test_jpeg_file_size_falls_with_quality():
    img = _texture()
    sizes = [len(encode_jpeg(img, quality)) for quality in (95, 85, 75, 50, 30, 10)]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)


def test_jpeg_error_grows_as_quality_falls():
    img = _texture()
    errors = [np.abs(jpeg_roundtrip(img, quality) - img).mean() for quality in (95, 75, 50, 10)]
    assert errors == sorted(errors) and errors[0] < errors[-1] / 3


@pytest.mark.parametrize("quality", [25, 50, 75, 90])
def test_jpeg_quantisation_table_is_annex_k_scaled_as_libjpeg(quality):
    # libjpeg jpeg_quality_scaling: 5000/q below 50, else 200 - 2q (percent); entries clamped to 1..255.
    percent = 5000 // quality if quality < 50 else 200 - 2 * quality
    expected = np.clip((ANNEX_K_LUMINANCE * percent + 50) // 100, 1, 255)
    with Image.open(io.BytesIO(encode_jpeg(_texture(64), quality))) as decoded:
        table = np.array(decoded.quantization[0]).reshape(8, 8)
    np.testing.assert_array_equal(table, expected)


def test_jpeg_roundtrip_returns_float32_on_the_8bit_grid():
    out = jpeg_roundtrip(_texture(32), 60)
    assert out.dtype == np.float32 and out.shape == (32, 32)
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)


def test_sampled_quality_covers_the_inclusive_range():
    rng = np.random.default_rng(0)
    draws = {sample_quality(rng, (50, 75)) for _ in range(2000)}
    assert draws == set(range(50, 76))
    assert sample_quality(rng, [60, 60]) == 60
