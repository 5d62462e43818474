"""Property-based tests (hypothesis): random images, shapes and dtypes through every degradation scenario
and every image-quality metric. Valid input gives finite output of the documented shape and range;
invalid input gives a ValueError (or UserError) that says what was expected, never a crash or a NaN."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmark.degradations import DEGRADATIONS, degrade
from benchmark.metrics import IMAGE_QUALITY_METRICS, measure_quality
from cxr_kernel.errors import UserError

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATTERNS = ("noise", "zeros", "ones", "checkerboard", "gradient", "single-bright-pixel")


def make_image(pattern: str, height: int, width: int, seed: int, dtype) -> np.ndarray:
    """An (H, W) image in [0, 1] with extremes included: flat black/white and hard edges."""
    rows, cols = np.indices((height, width))
    if pattern == "noise":
        image = np.random.default_rng(seed).random((height, width))
    elif pattern == "zeros":
        image = np.zeros((height, width))
    elif pattern == "ones":
        image = np.ones((height, width))
    elif pattern == "checkerboard":
        image = ((rows + cols) % 2).astype(float)
    elif pattern == "gradient":
        image = (rows + cols) / max(height + width - 2, 1)
    else:
        image = np.zeros((height, width))
        image[seed % height, seed % width] = 1.0
    return image.astype(dtype)


@st.composite
def hr_images(draw, scale):
    """HR images with sides a multiple of ``scale`` between 16 and 64 px, float32 or float64."""
    height = scale * draw(st.integers(-(-16 // scale), 64 // scale))
    width = scale * draw(st.integers(-(-16 // scale), 64 // scale))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return make_image(draw(st.sampled_from(PATTERNS)), height, width, draw(st.integers(0, 2**16)), dtype)


@pytest.mark.parametrize("scenario", DEGRADATIONS.names())
@pytest.mark.parametrize("scale", [2, 4, 8])
@SETTINGS
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_degradation_output_is_finite_in_range_and_the_right_shape(scenario, scale, data, seed):
    hr = data.draw(hr_images(scale))
    lr = degrade(scenario, hr, scale, np.random.default_rng(seed))
    assert lr.shape == (hr.shape[0] // scale, hr.shape[1] // scale)
    assert lr.dtype == np.float32
    assert np.isfinite(lr).all() and lr.min() >= 0 and lr.max() <= 1


BAD_HR = {
    "uint8": lambda: np.zeros((16, 16), np.uint8),
    "3-D": lambda: np.zeros((16, 16, 3), np.float32),
    "NaN": lambda: np.full((16, 16), np.nan, np.float32),
    "Inf": lambda: np.full((16, 16), np.inf, np.float32),
    "above 1": lambda: np.full((16, 16), 1.5, np.float32),
    "negative": lambda: np.full((16, 16), -0.1, np.float32),
    "not divisible": lambda: np.zeros((18, 16), np.float32),
    "empty": lambda: np.zeros((0, 0), np.float32),
}


@pytest.mark.parametrize("scenario", DEGRADATIONS.names())
@pytest.mark.parametrize("bad", sorted(BAD_HR))
def test_degradation_refuses_invalid_images_with_a_value_error(scenario, bad):
    with pytest.raises((ValueError, UserError), match="Expected"):
        degrade(scenario, BAD_HR[bad](), 4, np.random.default_rng(0))


@pytest.mark.parametrize("scale", [3, 0, 16, 2.0, True])
def test_degradation_refuses_unsupported_scales(scale):
    with pytest.raises((ValueError, UserError), match="scale"):
        degrade("bicubic", np.zeros((48, 48), np.float32), scale, np.random.default_rng(0))


RANGES = {
    "psnr": (0.0, np.inf),
    "ssim": (-1.0, 1.0),
    "mse": (0.0, 1.0),
    "mae": (0.0, 1.0),
    "gmsd": (0.0, np.inf),
    "hfen": (0.0, np.inf),
}
# MS-SSIM needs more than 160 pixels per side (five scales); its own tests cover it on such images.
# LPIPS needs user-given weights and 31 pixels per side; test_metrics_lpips.py covers it.
SMALL_IMAGE_METRICS = [name for name in IMAGE_QUALITY_METRICS.names() if name not in {"ms_ssim", "lpips"}]


@st.composite
def image_pairs(draw):
    height, width = draw(st.integers(11, 48)), draw(st.integers(11, 48))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**16))
    reference = make_image(draw(st.sampled_from(PATTERNS)), height, width, seed, dtype)
    image = make_image(draw(st.sampled_from(PATTERNS)), height, width, seed + 1, dtype)
    return reference, image


@SETTINGS
@given(pair=image_pairs())
def test_every_metric_is_finite_and_in_its_range_on_different_images(pair):
    reference, image = pair
    values = measure_quality(reference, image, SMALL_IMAGE_METRICS, data_range=1.0)
    for metric, value in values.items():
        low, high = RANGES[metric]
        if metric == "psnr" and np.array_equal(reference, image):
            assert value == np.inf  # identical images: documented, not a division warning
            continue
        if metric == "hfen" and not reference.any():
            assert value == np.inf or (value == 0 and not image.any())  # no LoG energy in HR: documented
            continue
        assert np.isfinite(value) and low - 1e-9 <= value <= high + 1e-9, (metric, value)


@SETTINGS
@given(pair=image_pairs())
def test_identical_images_score_perfectly(pair):
    reference, _ = pair
    values = measure_quality(reference, reference.copy(), SMALL_IMAGE_METRICS, data_range=1.0)
    assert values["psnr"] == np.inf and values["mse"] == 0 and values["mae"] == 0
    assert values["ssim"] == pytest.approx(1.0) and values["gmsd"] == pytest.approx(0.0, abs=1e-12)
    assert values["hfen"] == 0


BAD_PAIRS = {
    "shape mismatch": lambda: (np.zeros((16, 16)), np.zeros((16, 17))),
    "NaN": lambda: (np.zeros((16, 16)), np.full((16, 16), np.nan)),
    "Inf": lambda: (np.zeros((16, 16)), np.full((16, 16), np.inf)),
    "3-D": lambda: (np.zeros((16, 16, 3)), np.zeros((16, 16, 3))),
    "range beyond data_range": lambda: (np.zeros((16, 16)), np.full((16, 16), 255.0)),
    "too small": lambda: (np.zeros((4, 4)), np.zeros((4, 4))),
}


@pytest.mark.parametrize(
    ("metric", "bad"),
    [
        (metric, bad)
        for metric in IMAGE_QUALITY_METRICS.names()
        for bad in sorted(BAD_PAIRS)
        if bad != "too small" or metric == "ssim"  # 4x4 is too small only for SSIM's 11x11 window
    ],
)
def test_metrics_refuse_invalid_pairs_with_a_value_error(metric, bad):
    reference, image = BAD_PAIRS[bad]()
    with pytest.raises(ValueError, match="Expected"):
        measure_quality(reference, image, [metric], data_range=1.0)
