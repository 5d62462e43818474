"""The pipeline's quality stage (batched, cached per image) and the suite's `quality:` option."""

import numpy as np
import pytest

from benchmark.metrics import measure_quality
from benchmark.pipeline import stages
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.config import load_suite
from cxr_kernel.errors import UserError
from tests.cli.test_config import MINIMAL, write_suite

METRICS = ["psnr", "ssim", "gmsd", "hfen"]


def _variants(count: int = 5) -> tuple[stages.Images, stages.Images]:
    rng = np.random.default_rng(5)
    hr = rng.random((count, 40, 36), dtype=np.float32)
    sr = np.clip(hr + rng.normal(0, 0.05, hr.shape), 0, 1).astype(np.float32)
    return (
        stages.Images("HR", hr, [f"hr{i}" for i in range(count)]),
        stages.Images("sr-model", sr, [f"sr{i}" for i in range(count)]),
    )


def test_quality_stage_equals_the_per_image_metrics(tmp_path):
    hr, sr = _variants()
    table = stages.quality(hr, sr, METRICS, 2, Cache(tmp_path), batch_size=2)
    assert len(table) == len(METRICS) * len(hr.keys) and set(table["variant"]) == {"sr-model"}
    for index in range(len(hr.keys)):
        expected = measure_quality(hr.pixels[index], sr.pixels[index], METRICS, data_range=1.0, crop_border=2)
        rows = table[table["image_index"] == index].set_index("metric")["value"]
        np.testing.assert_allclose([rows[m] for m in METRICS], [expected[m] for m in METRICS], atol=1e-6)


def test_quality_stage_reads_every_value_back_from_the_cache(tmp_path, monkeypatch):
    hr, sr = _variants()
    first = stages.quality(hr, sr, METRICS, 0, Cache(tmp_path), batch_size=2)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached value")

    monkeypatch.setattr(stages, "measure_quality_batch", fail)
    again = stages.quality(hr, sr, METRICS, 0, Cache(tmp_path))
    assert again.equals(first)
    with pytest.raises(AssertionError, match="recomputed"):  # another convention is another cache entry
        stages.quality(hr, sr, METRICS, 0, Cache(tmp_path), convention="basicsr")


def test_basicsr_convention_loads_and_refuses_its_own_crop_border(tmp_path):
    suite = load_suite(str(write_suite(tmp_path, {**MINIMAL, "quality": {"convention": "basicsr"}})))
    assert suite.quality.convention == "basicsr"
    assert load_suite(str(write_suite(tmp_path, MINIMAL))).quality.convention == "skimage"
    raw = {**MINIMAL, "quality": {"convention": "basicsr"}, "crop_border": 4}
    with pytest.raises(UserError, match="crops each cell's scale itself; remove crop_border"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_unknown_convention_is_refused(tmp_path):
    with pytest.raises(UserError, match="quality.convention"):
        load_suite(str(write_suite(tmp_path, {**MINIMAL, "quality": {"convention": "matlab"}})))
