"""Each scenario's own behaviour: noise statistics, detector physics, parameters actually applied."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from benchmark.degradations import degrade, telemed

FLAT = np.full((256, 256), 0.5, np.float32)


def _smooth(size: int = 128) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    return (0.5 + 0.3 * np.sin(5 * x) * np.cos(3 * y)).astype(np.float32)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --- bicubic, bicubic-noise ----------------------------------------------------------------------


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("name", ["bicubic", "area"])
def test_downsampling_a_constant_image_gives_the_constant(name, scale):
    np.testing.assert_allclose(
        degrade(name, np.full((64, 64), 0.3, np.float32), scale, _rng()), 0.3, atol=1e-6
    )


@pytest.mark.parametrize("sigma", [0.01, 0.03])
def test_bicubic_noise_adds_gaussian_noise_of_sigma_on_unit_scale(sigma):
    lr = degrade("bicubic-noise", np.full((512, 512), 0.5, np.float32), 2, _rng(), {"sigma": sigma})
    residual = lr.astype(np.float64) - 0.5
    assert residual.std() == pytest.approx(sigma, rel=0.02)
    assert abs(residual.mean()) < 4 * sigma / 256


def test_bicubic_noise_with_zero_sigma_is_bicubic():
    hr = _smooth()
    np.testing.assert_array_equal(
        degrade("bicubic-noise", hr, 4, _rng(), {"sigma": 0.0}), degrade("bicubic", hr, 4, _rng())
    )


# --- classical -----------------------------------------------------------------------------------


def test_classical_noise_range_is_on_the_0_255_scale():
    params = {"blur_sigma": [0, 0], "noise_range": [10, 10], "jpeg_range": [100, 100]}
    lr = degrade("classical", np.full((512, 512), 0.5, np.float32), 2, _rng(), params)
    assert (lr.astype(np.float64) - 0.5).std() == pytest.approx(10 / 255, rel=0.03)


def test_classical_without_blur_noise_or_compression_is_a_plain_downsample():
    hr = _smooth()
    params = {"blur_sigma": [0, 0], "noise_range": [0, 0], "jpeg_range": [100, 100]}
    lr = degrade("classical", hr, 4, _rng(), params)
    np.testing.assert_allclose(lr, degrade("bicubic", hr, 4, _rng()), atol=2 / 255)


def test_classical_blur_removes_detail_before_downsampling():
    hr = np.random.default_rng(3).random((128, 128)).astype(np.float32)
    fixed = {"noise_range": [0, 0], "jpeg_range": [100, 100]}
    spread = [degrade("classical", hr, 2, _rng(), {**fixed, "blur_sigma": [s, s]}).std() for s in (0, 1, 3)]
    assert spread[0] > spread[1] > spread[2]


# --- telemed -------------------------------------------------------------------------------------


def test_telemed_is_pillow_jpeg_of_the_bicubic_image_at_a_fixed_quality():
    hr = _smooth()
    lr = degrade("telemed", hr, 4, _rng(), {"quality_range": [60, 60]})
    pixels = np.clip(np.round(degrade("bicubic", hr, 4, _rng()) * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=60)
    reference = np.asarray(Image.open(buffer), dtype=np.float32) / 255.0
    np.testing.assert_array_equal(lr, reference)


def test_telemed_draws_each_image_quality_from_the_range(monkeypatch):
    seen = []

    def recording_roundtrip(img, quality):
        seen.append(quality)
        return img

    monkeypatch.setattr(telemed, "jpeg_roundtrip", recording_roundtrip)
    for seed in range(300):
        degrade("telemed", FLAT[:32, :32], 4, _rng(seed))
    assert set(seen) == set(range(50, 76))


# --- realesrgan ----------------------------------------------------------------------------------


def test_realesrgan_output_lies_on_the_8bit_grid():
    lr = degrade("realesrgan", _smooth(), 4, _rng(5))
    np.testing.assert_allclose(lr * 255, np.round(lr * 255), atol=1e-4)


def test_realesrgan_with_every_step_switched_off_is_a_plain_downsample():
    hr = _smooth()
    off = {
        "kernel_prob": [1, 0, 0, 0, 0, 0], "blur_sigma": [1e-3, 1e-3], "sinc_prob": 0,
        "resize_prob": [0, 0, 1], "gaussian_noise_prob": 1, "noise_range": [0, 0], "jpeg_range": [100, 100],
        "second_blur_prob": 0, "resize_prob2": [0, 0, 1], "gaussian_noise_prob2": 1,
        "noise_range2": [0, 0], "jpeg_range2": [100, 100], "final_sinc_prob": 0,
    }  # fmt: skip
    for seed in range(5):
        lr = degrade("realesrgan", hr, 4, _rng(seed), off)
        np.testing.assert_allclose(lr, degrade("area", hr, 4, _rng()), atol=3 / 255)


def test_realesrgan_defaults_degrade_visibly_more_than_bicubic():
    hr = _smooth()
    reference = degrade("bicubic", hr, 4, _rng())
    errors = [np.abs(degrade("realesrgan", hr, 4, _rng(seed)) - reference).mean() for seed in range(8)]
    assert np.median(errors) > 2 / 255


# --- acquisition ---------------------------------------------------------------------------------


def test_linear_acquisition_variance_is_mean_over_collected_photons():
    # Poisson counting: N ~ Poisson(dose * 4 * 0.5) per 2x2 bin, so Var(N / (dose * 4)) = 0.5 / (dose * 4).
    params = {"dose": 50.0, "mtf_sigma": 0.0, "transfer": "linear"}
    lr = degrade("acquisition", FLAT, 2, _rng(), params).astype(np.float64)
    assert lr.mean() == pytest.approx(0.5, abs=4 * np.sqrt(0.5 / 200 / lr.size))
    assert lr.var() == pytest.approx(0.5 / 200, rel=0.05)


def test_log_acquisition_variance_follows_beer_lambert_photon_counts():
    # Expected counts per bin: dose * 4 * exp(-a I); delta method: Var(I') = 1 / (a^2 * counts).
    dose, attenuation, value = 1000.0, 4.0, 0.5
    hr = np.full((256, 256), value, np.float32)
    params = {"dose": dose, "mtf_sigma": 0.0, "attenuation": attenuation}
    lr = degrade("acquisition", hr, 2, _rng(), params).astype(np.float64)
    counts = dose * 4 * np.exp(-attenuation * value)
    assert lr.mean() == pytest.approx(value, abs=0.002)
    assert lr.var() == pytest.approx(1 / (attenuation**2 * counts), rel=0.05)


def test_dense_regions_are_noisier_than_lungs_in_log_mode():
    hr = np.concatenate([np.full((128, 256), 0.1), np.full((128, 256), 0.9)]).astype(np.float32)
    lr = degrade("acquisition", hr, 2, _rng(), {"dose": 200.0, "mtf_sigma": 0.0})
    assert lr[4:60].std() * 3 < lr[68:124].std()


def test_acquisition_noise_falls_as_dose_rises():
    spreads = [
        degrade("acquisition", FLAT, 2, _rng(), {"dose": d, "mtf_sigma": 0.0}).std() for d in (100, 400)
    ]
    assert spreads[0] / spreads[1] == pytest.approx(2.0, rel=0.1)  # std ~ 1 / sqrt(dose)


def test_read_noise_adds_its_variance_per_detector_pixel():
    params = {"dose": 100.0, "mtf_sigma": 0.0, "transfer": "linear", "read_noise": 20.0}
    lr = degrade("acquisition", FLAT, 2, _rng(), params).astype(np.float64)
    assert lr.var() == pytest.approx(0.5 / 400 + (20.0 / 400) ** 2, rel=0.05)


def test_ideal_detector_at_high_dose_is_area_binning():
    hr = _smooth()
    params = {"dose": 1e10, "mtf_sigma": 0.0, "transfer": "linear"}
    np.testing.assert_allclose(
        degrade("acquisition", hr, 4, _rng(), params), degrade("area", hr, 4, _rng()), atol=1e-4
    )


def test_detector_blur_attenuates_a_sinusoid_by_the_gaussian_mtf():
    sigma, frequency, scale = 2.0, 1 / 16, 2  # frequency in cycles per HR pixel
    x = np.arange(512)
    hr = np.tile(0.5 + 0.2 * np.cos(2 * np.pi * frequency * x), (16, 1)).astype(np.float32)
    params = {"dose": 1e10, "mtf_sigma": sigma, "transfer": "linear"}
    lr = degrade("acquisition", hr, scale, _rng(), params).astype(np.float64)[:, 16:-16].mean(axis=0)
    centres = (np.arange(512 // scale) + 0.5) * scale - 0.5
    phase = 2 * np.pi * frequency * centres[16:-16]
    amplitude = np.linalg.lstsq(np.c_[np.cos(phase), np.sin(phase), np.ones_like(phase)], lr, rcond=None)[0]
    mtf = np.exp(-2 * np.pi**2 * sigma**2 * frequency**2)
    aperture = np.sin(np.pi * frequency * scale) / (scale * np.sin(np.pi * frequency))  # 2-pixel bin
    assert np.hypot(amplitude[0], amplitude[1]) == pytest.approx(0.2 * mtf * aperture, rel=0.01)


def test_log_acquisition_of_a_flat_image_at_high_dose_is_the_image():
    lr = degrade("acquisition", np.full((64, 64), 0.7, np.float32), 4, _rng(), {"dose": 1e10})
    np.testing.assert_allclose(lr, 0.7, atol=1e-4)
