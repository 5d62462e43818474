"""Image-quality metrics against scikit-image, BasicSR's SSIM formula and the GMSD reference code."""

import warnings

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from benchmark.metrics.image_quality import gmsd, mae, mse, psnr, ssim


@pytest.fixture
def pair():
    """A smooth (H, W) float32 reference in [0, 1] and a noisy, clipped copy of it."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:48, 0:40]
    reference = (0.5 + 0.4 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.float32)
    image = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0, 1).astype(np.float32)
    return reference, image


def test_psnr_matches_skimage_and_the_formula(pair):
    reference, image = pair
    expected = peak_signal_noise_ratio(reference.astype(float), image.astype(float), data_range=1.0)
    hand = 10 * np.log10(1.0 / np.mean((reference.astype(float) - image.astype(float)) ** 2))
    assert psnr(reference, image, data_range=1.0) == pytest.approx(expected, rel=1e-12)
    assert psnr(reference, image, data_range=1.0) == pytest.approx(hand, rel=1e-9)


def test_psnr_of_identical_images_is_inf_without_warning(pair):
    reference, _ = pair
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert psnr(reference, reference.copy(), data_range=1.0) == float("inf")


def test_crop_border_compares_only_the_interior(pair):
    reference, image = pair
    damaged = image.copy()
    damaged[:3, :] = 1 - damaged[:3, :]  # wreck the top border only
    inner = (slice(3, -3), slice(3, -3))
    assert psnr(reference, damaged, data_range=1.0, crop_border=3) == pytest.approx(
        peak_signal_noise_ratio(reference[inner].astype(float), damaged[inner].astype(float), data_range=1.0)
    )
    assert psnr(reference, damaged, data_range=1.0, crop_border=3) > psnr(reference, damaged, data_range=1.0)
    assert mse(reference, damaged, data_range=1.0, crop_border=3) == pytest.approx(
        mean_squared_error(reference[inner].astype(float), damaged[inner].astype(float))
    )


def test_ssim_default_matches_skimage_gaussian_settings(pair):
    reference, image = pair
    expected = structural_similarity(
        reference.astype(float),
        image.astype(float),
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(reference, image, data_range=1.0) == pytest.approx(expected, rel=1e-12)


def test_ssim_uniform_window_matches_skimage_default(pair):
    reference, image = pair
    expected = structural_similarity(reference.astype(float), image.astype(float), data_range=1.0)
    assert ssim(reference, image, data_range=1.0, gaussian_weights=False) == pytest.approx(expected)


def _basicsr_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    """BasicSR's ``_ssim`` on [0, 255] images: 11x11 Gaussian (sigma 1.5) window, 'valid' region."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    taps = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    window = np.outer(taps, taps) / taps.sum() ** 2

    def filt(a):
        return correlate2d(a, window, mode="valid")

    mu1, mu2 = filt(img1), filt(img2)
    sigma1 = filt(img1**2) - mu1**2
    sigma2 = filt(img2**2) - mu2**2
    sigma12 = filt(img1 * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1**2 + mu2**2 + c1) * (sigma1 + sigma2 + c2))
    return float(ssim_map.mean())


def test_ssim_matches_basicsr_formula_with_crop_border(pair):
    reference, image = pair
    crop = 4
    inner = (slice(crop, -crop), slice(crop, -crop))
    expected = _basicsr_ssim(reference[inner] * 255.0, image[inner] * 255.0)
    assert ssim(reference, image, data_range=1.0, crop_border=crop) == pytest.approx(expected, rel=1e-6)


def test_mse_and_mae_match_direct_computation(pair):
    reference, image = pair
    difference = reference.astype(float) - image.astype(float)
    assert mse(reference, image, data_range=1.0) == pytest.approx(
        mean_squared_error(reference.astype(float), image.astype(float))
    )
    assert mae(reference, image, data_range=1.0) == pytest.approx(np.abs(difference).mean())


def _matlab_conv2_same(a: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """MATLAB ``conv2(a, kernel, 'same')``: the central part of the full convolution."""
    full = convolve2d(a, kernel, mode="full")
    r, c = kernel.shape[0] // 2, kernel.shape[1] // 2
    return full[r : r + a.shape[0], c : c + a.shape[1]]


def _gmsd_reference(reference: np.ndarray, image: np.ndarray) -> float:
    """Line-by-line port of Xue et al.'s GMSD.m on [0, 255] images."""
    dx = np.array([[1, 0, -1]] * 3) / 3.0
    dy = dx.T
    average = np.ones((2, 2)) / 4
    maps = []
    for y in (reference * 255.0, image * 255.0):
        down = _matlab_conv2_same(y, average)[::2, ::2]
        maps.append(np.sqrt(_matlab_conv2_same(down, dx) ** 2 + _matlab_conv2_same(down, dy) ** 2))
    g1, g2 = maps
    quality = (2 * g1 * g2 + 170) / (g1**2 + g2**2 + 170)
    return float(np.std(quality, ddof=1))


def test_gmsd_matches_a_port_of_the_reference_matlab_code(pair):
    reference, image = pair
    expected = _gmsd_reference(reference.astype(float), image.astype(float))
    assert expected > 0.01  # the noisy pair is far from identical, so the comparison is not trivial
    assert gmsd(reference, image, data_range=1.0) == pytest.approx(expected, rel=1e-9)


def test_gmsd_is_scale_consistent_through_data_range(pair):
    reference, image = pair
    assert gmsd(reference * 255, image * 255, data_range=255.0) == pytest.approx(
        gmsd(reference, image, data_range=1.0), rel=1e-6
    )


def test_float32_and_float64_inputs_give_the_same_values(pair):
    reference, image = pair
    for metric in (psnr, ssim, mse, mae, gmsd):
        assert metric(reference, image, data_range=1.0) == pytest.approx(
            metric(reference.astype(float), image.astype(float), data_range=1.0), rel=1e-12
        )


def test_shape_mismatch_names_both_shapes(pair):
    reference, image = pair
    with pytest.raises(ValueError, match=r"reference \(48, 40\) and image \(48, 39\)"):
        psnr(reference, image[:, :-1], data_range=1.0)


def test_values_beyond_data_range_report_min_and_max(pair):
    reference, image = pair
    with pytest.raises(ValueError, match=r"min 0 and max 2\d\d"):
        mse(reference, image * 255, data_range=1.0)


def test_three_dimensional_input_is_rejected(pair):
    reference, _ = pair
    with pytest.raises(ValueError, match=r"2-D \(H, W\)"):
        psnr(reference[None], reference[None], data_range=1.0)


def test_crop_border_leaving_too_little_image_is_rejected(pair):
    reference, image = pair
    with pytest.raises(ValueError, match="crop_border|cropping"):
        ssim(reference, image, data_range=1.0, crop_border=15)


@pytest.mark.parametrize("data_range", [0, -1.0, float("nan")])
def test_non_positive_data_range_is_rejected(pair, data_range):
    reference, image = pair
    with pytest.raises(ValueError, match="data_range"):
        psnr(reference, image, data_range=data_range)
