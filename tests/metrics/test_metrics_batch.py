"""measure_quality_batch against independent references on random images and real X-rays.

References: ``benchmark.metrics.references`` (scikit-image, NumPy, pytorch_msssim, a transcription of
the MATLAB HFEN, the per-image GMSD) and a transcription of BasicSR's calculate_psnr/ssim.
"""

import warnings

import numpy as np
import pytest
from scipy import ndimage

from benchmark.images import read_grayscale, resize_square
from benchmark.metrics import IMAGE_QUALITY_METRICS, NETWORK_METRICS, measure_quality_batch
from benchmark.metrics.references import REFERENCES
from cxr_kernel.errors import UserError
from tests.support.paths import ROOT

TOLERANCE = 1e-6
# LPIPS needs user-given weights; test_metrics_lpips.py checks it against the official package.
WEIGHT_FREE = [name for name in IMAGE_QUALITY_METRICS.names() if name not in NETWORK_METRICS]
XRAYS = next(
    (
        folder / "shared" / "data" / "kermany-hr"
        for folder in ROOT.parents
        if (folder / "shared" / "data" / "kermany-hr").is_dir()
    ),
    None,
)


def _random_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Odd, non-square sides (exercising the odd-side pooling of MS-SSIM and GMSD)."""
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:181, 0:171]
    smooth = 0.5 + 0.3 * np.sin(x / 9.0) * np.cos(y / 13.0)
    references = np.clip(smooth + rng.normal(0, 0.1, (3, 181, 171)), 0, 1).astype(np.float32)
    images = np.clip(references + rng.normal(0, 0.04, references.shape), 0, 1).astype(np.float32)
    return references, images


def _xray_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Three real HR chest X-rays at 192x192 and their bicubic x4 down-and-up copies."""
    if XRAYS is None:
        pytest.skip("../shared/data/kermany-hr (real X-rays) not beside the checkout")
    files = sorted(XRAYS.glob("*/*.jpeg"))[::70][:3]
    references = np.stack([resize_square(read_grayscale(path), 192) for path in files])
    images = np.stack([np.clip(resize_square(resize_square(r, 48), 192), 0, 1) for r in references])
    return references, images


@pytest.fixture(scope="module", params=["random", "xray"])
def pairs(request):
    return _random_pairs() if request.param == "random" else _xray_pairs()


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("crop_border", [0, 4])
def test_batch_equals_the_independent_reference_per_image(pairs, name, crop_border):
    references, images = pairs
    inner = (slice(crop_border, -crop_border or None),) * 2
    expected = [
        REFERENCES[name](r[inner].astype(float), i[inner].astype(float))
        for r, i in zip(references, images, strict=True)
    ]
    values = measure_quality_batch(references, images, [name], crop_border=crop_border)[name]
    assert values.shape == (len(references),) and values.dtype == np.float64
    np.testing.assert_allclose(values, expected, rtol=0, atol=TOLERANCE)


def test_every_registered_metric_has_a_batched_form_and_a_reference():
    assert sorted(REFERENCES) == WEIGHT_FREE


@pytest.mark.parametrize("name", ["ms_ssim", "hfen"])
def test_per_image_function_equals_the_reference(name):
    references, images = _random_pairs()
    value = IMAGE_QUALITY_METRICS.get(name)(references[0], images[0], data_range=1.0)
    expected = REFERENCES[name](references[0].astype(float), images[0].astype(float))
    assert value == pytest.approx(expected, abs=TOLERANCE)
    assert abs(value - IMAGE_QUALITY_METRICS.get(name)(references[0], references[0], data_range=1.0)) > 1e-3


def test_an_images_values_do_not_depend_on_the_other_images_in_the_call():
    references, images = _random_pairs()
    names = WEIGHT_FREE
    whole = measure_quality_batch(references, images, names)
    for split in (1, len(references) // 2):
        parts = [
            measure_quality_batch(references[part], images[part], names)
            for part in (slice(0, split), slice(split, None))
        ]
        for name in names:
            # Bit for bit: a sharded or resumed run must equal an uninterrupted one exactly.
            np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name])


def test_identical_images_give_ideal_values_without_warnings():
    references, _ = _random_pairs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = measure_quality_batch(references, references.copy(), WEIGHT_FREE)
    ideal = {"psnr": np.inf, "ssim": 1.0, "ms_ssim": 1.0, "mse": 0.0, "mae": 0.0, "gmsd": 0.0, "hfen": 0.0}
    for name, value in ideal.items():
        np.testing.assert_allclose(values[name], value, atol=1e-6)


def _basicsr_uint8(image: np.ndarray) -> np.ndarray:
    """BasicSR's tensor2img for a [0, 1] float image: clamp, * 255, round, uint8."""
    return (np.clip(image, 0, 1) * 255.0).round().astype(np.uint8)


def _basicsr_psnr(img: np.ndarray, img2: np.ndarray, crop_border: int) -> float:
    """basicsr.metrics.psnr_ssim.calculate_psnr (HWC uint8 in, float64, no Y conversion)."""
    img, img2 = img.astype(np.float64), img2.astype(np.float64)
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border, ...]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...]
    mse = np.mean((img - img2) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 * 255.0 / mse)


def _basicsr_ssim(img: np.ndarray, img2: np.ndarray, crop_border: int) -> float:
    """basicsr calculate_ssim + _ssim: cv2.getGaussianKernel(11, 1.5) outer product, filter2D, [5:-5]."""
    img, img2 = img.astype(np.float64), img2.astype(np.float64)
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    kernel = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    kernel /= kernel.sum()
    window = np.outer(kernel, kernel.transpose())

    def filter2d(a):  # cv2.filter2D is a correlation; BasicSR keeps only the [5:-5, 5:-5] part
        return ndimage.correlate(a, window, mode="mirror")[5:-5, 5:-5]

    mu1, mu2 = filter2d(img), filter2d(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = filter2d(img**2) - mu1_sq
    sigma2_sq = filter2d(img2**2) - mu2_sq
    sigma12 = filter2d(img * img2) - mu1_mu2
    numerator = (2 * mu1_mu2 + c1) * (2 * sigma12 + c2)
    return float((numerator / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))).mean())


def test_basicsr_convention_matches_a_transcription_of_basicsr(pairs):
    references, images = pairs
    scale = 4
    values = measure_quality_batch(
        references, images, ["psnr", "ssim"], crop_border=scale, convention="basicsr"
    )
    gt = [_basicsr_uint8(r) for r in references]
    sr = [_basicsr_uint8(i) for i in images]
    expected_psnr = [_basicsr_psnr(a, b, scale) for a, b in zip(gt, sr, strict=True)]
    expected_ssim = [_basicsr_ssim(a, b, scale) for a, b in zip(gt, sr, strict=True)]
    np.testing.assert_allclose(values["psnr"], expected_psnr, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(values["ssim"], expected_ssim, rtol=0, atol=TOLERANCE)
    # the uint8 rounding matters: the default convention gives different numbers on the same images
    default = measure_quality_batch(references, images, ["psnr"], crop_border=scale)["psnr"]
    assert np.max(np.abs(default - values["psnr"])) > 1e-4


def test_unknown_metric_and_convention_are_rejected():
    references, images = _random_pairs()
    with pytest.raises(UserError, match="Did you mean 'ssim'"):
        measure_quality_batch(references, images, ["ssimm"])
    with pytest.raises(ValueError, match="convention"):
        measure_quality_batch(references, images, ["ssim"], convention="matlab")


def test_single_images_are_rejected_with_the_stack_layout():
    references, images = _random_pairs()
    with pytest.raises(ValueError, match=r"3-D \(N, H, W\)"):
        measure_quality_batch(references[0], images[0], ["psnr"])


def test_stacks_of_different_shapes_name_both_shapes():
    references, images = _random_pairs()
    with pytest.raises(ValueError, match=r"reference \(3, 181, 171\) and image \(2, 181, 171\)"):
        measure_quality_batch(references, images[:2], ["psnr"])


def test_ms_ssim_on_too_small_images_says_how_large_they_must_be():
    references, images = _random_pairs()
    with pytest.raises(ValueError, match="at least 161 pixels"):
        measure_quality_batch(references[:, :150], images[:, :150], ["ms_ssim"])


def test_nan_pixels_are_rejected():
    references, images = _random_pairs()
    images[1, 5, 5] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        measure_quality_batch(references, images, ["mae"])
