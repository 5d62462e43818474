"""Properties every registered image-quality metric must have, and the metric registries."""

import numpy as np
import pytest

from benchmark.metrics import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    IMAGE_QUALITY_METRICS,
    NETWORK_METRICS,
    measure_quality,
)
from cxr_kernel.errors import UserError

IDEAL = {
    "psnr": float("inf"),
    "ssim": 1.0,
    "ms_ssim": 1.0,
    "mse": 0.0,
    "mae": 0.0,
    "gmsd": 0.0,
    "hfen": 0.0,
    "lpips": 0.0,
}
# HFEN divides by the reference's high-frequency energy, so swapping the arguments changes it.
ASYMMETRIC = {"hfen"}


def _images(noise: float, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:176, 0:176]  # MS-SSIM needs more than 160 pixels per side
    reference = (0.5 + 0.3 * np.sin(x / 4.0 + y / 6.0)).astype(np.float32)
    image = np.clip(reference + rng.normal(0, noise, reference.shape), 0, 1).astype(np.float32)
    return reference, image


# Metrics that need user-given weights have these properties checked with weights in their own tests
# (test_metrics_lpips.py).
@pytest.fixture(params=[n for n in IMAGE_QUALITY_METRICS.names() if n not in NETWORK_METRICS])
def name(request):
    return request.param


def test_every_metric_has_a_direction_and_an_ideal_value():
    assert sorted(HIGHER_IS_BETTER) == IMAGE_QUALITY_METRICS.names()
    assert sorted(IDEAL) == IMAGE_QUALITY_METRICS.names()


def test_identical_images_give_the_ideal_value(name):
    reference, _ = _images(0.0)
    value = IMAGE_QUALITY_METRICS.get(name)(reference, reference.copy(), data_range=1.0)
    assert value == pytest.approx(IDEAL[name])


def test_more_noise_gives_a_worse_value(name):
    metric = IMAGE_QUALITY_METRICS.get(name)
    mild = metric(*_images(0.02), data_range=1.0)
    strong = metric(*_images(0.2), data_range=1.0)
    assert (mild > strong) if HIGHER_IS_BETTER[name] else (mild < strong)


def test_metric_is_symmetric_unless_declared_otherwise(name):
    metric = IMAGE_QUALITY_METRICS.get(name)
    reference, image = _images(0.1)
    forward, backward = metric(reference, image, data_range=1.0), metric(image, reference, data_range=1.0)
    symmetric = forward == pytest.approx(backward)
    assert symmetric != (name in ASYMMETRIC)


def test_data_range_is_required(name):
    reference, image = _images(0.1)
    with pytest.raises(TypeError, match="data_range"):
        IMAGE_QUALITY_METRICS.get(name)(reference, image)


def test_measure_quality_returns_each_requested_metric_in_order():
    reference, image = _images(0.1)
    values = measure_quality(reference, image, ["ssim", "psnr"], data_range=1.0, crop_border=2)
    assert list(values) == ["ssim", "psnr"]
    psnr = IMAGE_QUALITY_METRICS.get("psnr")
    assert values["psnr"] == psnr(reference, image, data_range=1.0, crop_border=2)


def test_unknown_metric_name_suggests_the_closest():
    reference, image = _images(0.1)
    with pytest.raises(UserError, match="Did you mean 'psnr'"):
        measure_quality(reference, image, ["psnrr"])


def test_classification_registry_resolves_every_name():
    assert CLASSIFICATION_METRICS.names() == sorted(
        ["accuracy", "sensitivity", "specificity", "auroc", "log_loss", "brier", "ece"]
    )
    labels, probs = np.array([0, 1, 0, 1]), np.array([0.2, 0.7, 0.6, 0.9])
    for metric in CLASSIFICATION_METRICS.names():
        assert 0 <= CLASSIFICATION_METRICS.get(metric)(labels, probs) < 10
