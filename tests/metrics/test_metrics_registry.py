"""Properties every registered image-quality metric must have, the metric registries, and the metric
specs (``benchmark.metrics.spec``) as the one owner of names, labels and directions."""

import numpy as np
import pytest

from benchmark.metrics import (
    CLASSIFICATION_METRICS,
    IMAGE_QUALITY_METRICS,
    NETWORK_METRICS,
    measure_quality,
    specs,
)
from benchmark.metrics.spec import CLASSIFICATION, IMAGE_QUALITY, lookup
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


def test_every_metric_has_an_ideal_value_within_its_bounds():
    assert sorted(IDEAL) == IMAGE_QUALITY_METRICS.names()
    for name, ideal in IDEAL.items():
        low, high = lookup(name).bounds
        assert low <= ideal <= high
        assert ideal == (high if lookup(name).higher_is_better else low)


def test_identical_images_give_the_ideal_value(name):
    reference, _ = _images(0.0)
    value = IMAGE_QUALITY_METRICS.get(name)(reference, reference.copy(), data_range=1.0)
    assert value == pytest.approx(IDEAL[name])


def test_more_noise_gives_a_worse_value(name):
    metric = IMAGE_QUALITY_METRICS.get(name)
    mild = metric(*_images(0.02), data_range=1.0)
    strong = metric(*_images(0.2), data_range=1.0)
    assert (mild > strong) if lookup(name).higher_is_better else (mild < strong)


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
        ["accuracy", "sensitivity", "specificity", "ppv", "npv", "f1"]
        + ["auroc", "auprc", "log_loss", "brier", "ece", "ece_debiased"]
    )
    labels, probs = np.array([0, 1, 0, 1]), np.array([0.2, 0.7, 0.6, 0.9])
    for metric in CLASSIFICATION_METRICS.names():
        low, high = lookup(metric).bounds
        assert low <= CLASSIFICATION_METRICS.get(metric)(labels, probs) <= high


# -- the specs: one owner --------------------------------------------------------------------------------


def test_every_metric_has_one_spec_with_a_label_direction_and_bounds():
    for spec in specs():
        assert spec.kind in (IMAGE_QUALITY, CLASSIFICATION)
        assert spec.label and spec.bounds[0] < spec.bounds[1]
        assert spec.function.metric_spec is spec
    assert sorted(s.name for s in specs(IMAGE_QUALITY)) == IMAGE_QUALITY_METRICS.names()
    assert NETWORK_METRICS == {"lpips"}


def test_the_statistics_metric_tuples_come_from_the_specs():
    from benchmark.metrics.classification import SCORE_METRICS, THRESHOLD_METRICS
    from benchmark.stats import cell

    assert THRESHOLD_METRICS == ("accuracy", "sensitivity", "specificity", "ppv", "npv", "f1")
    assert (
        SCORE_METRICS == cell.SCORE_METRICS == ("auroc", "auprc", "log_loss", "brier", "ece", "ece_debiased")
    )


def test_the_batched_stage_runs_each_specs_batched_function():
    from benchmark.metrics import batch

    functions = batch._batched_functions(["psnr", "ms_ssim"], None)
    assert functions == {"psnr": (lookup("psnr").batched, 1), "ms_ssim": (lookup("ms_ssim").batched, 161)}


def test_a_second_definition_of_a_name_is_refused():
    from benchmark.metrics.spec import image_quality_metric

    with pytest.raises(ValueError, match="defined twice"):

        @image_quality_metric("psnr", label="x", higher_is_better=True, bounds=(0, 1), batched=abs)
        def psnr(reference, image, *, data_range, crop_border=0):
            return 0.0


def test_the_report_labels_and_marks_every_metric_from_its_spec():
    from reports import formatting

    for spec in specs():
        assert formatting.metric_label(spec.name) == spec.label
        assert formatting.better_direction(spec.name) == spec.direction
    assert formatting.metric_label("ms_ssim") == "MS-SSIM" and formatting.better_direction("hfen") == -1
    assert formatting.QUALITY_METRICS == ("psnr", "ssim", "mse", "mae", "lpips")
    assert formatting.CLASSIFICATION_METRICS == (
        *("accuracy", "sensitivity", "specificity"),
        *("auroc", "log_loss", "brier", "ece"),
    )


def test_the_report_takes_a_runs_stored_specs(tmp_path, monkeypatch):
    """A metric this code does not know, stored by the run, is labelled and marked as the run says."""
    import json

    from reports import formatting, rundir

    monkeypatch.setattr(formatting, "METRIC_LABELS", dict(formatting.METRIC_LABELS))
    monkeypatch.setattr(formatting, "HIGHER_IS_BETTER", set(formatting.HIGHER_IS_BETTER))
    monkeypatch.setattr(formatting, "LOWER_IS_BETTER", set(formatting.LOWER_IS_BETTER))
    stored = {**lookup("psnr").record(), "name": "vif", "label": "VIF"}
    summary = {"suite": "s", "run_id": "r", "tables": {}, "metric_specs": {"vif": stored}}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    assert formatting.better_direction("vif") == 0
    rundir.load_summary(tmp_path)
    assert formatting.metric_label("vif") == "VIF" and formatting.better_direction("vif") == 1
