"""The tidy results table: columns, round trip to the analysis inputs, validation on write and read."""

import numpy as np
import pandas as pd
import pytest

from benchmark.stats.schema import (
    RESULTS_COLUMNS,
    analysis_inputs,
    at_fixed_threshold,
    read_results,
    tidy_results,
    write_results,
)
from cxr_kernel.errors import UserError


@pytest.fixture
def inputs():
    images = ["b", "a", "c"]
    quality = pd.DataFrame(
        {
            "cell": ["x4"] * 6,
            "variant": ["srgan"] * 3 + ["bicubic"] * 3,
            "image_id": images * 2,
            "metric": ["psnr"] * 6,
            "value": [30.0, np.inf, 28.5, 27.0, 26.0, 25.0],
        }
    )
    predictions = pd.DataFrame(
        {
            "cell": ["x4"] * 9,
            "variant": ["HR"] * 3 + ["srgan"] * 3 + ["bicubic"] * 3,
            "image_id": images * 3,
            "label": [1, 0, 1] * 3,
            "prob": np.linspace(0.1, 0.9, 9),
        }
    )
    return quality, predictions


def test_results_are_long_with_the_documented_columns(inputs):
    results = tidy_results("run-1", *inputs)
    assert tuple(results.columns) == RESULTS_COLUMNS == ("run", "cell", "model", "image", "metric", "value")
    assert len(results) == 6 + 9 * 2
    assert set(results["metric"]) == {"psnr", "prob", "label"} and set(results["run"]) == {"run-1"}
    srgan_b = results[(results["model"] == "srgan") & (results["image"] == "b")].set_index("metric")["value"]
    assert srgan_b.to_dict() == {"psnr": 30.0, "prob": 0.4, "label": 1.0}


def test_written_results_read_back_into_the_same_analysis_inputs(inputs, tmp_path):
    path = write_results(tmp_path / "results.parquet", tidy_results("run-1", *inputs))
    quality, predictions = analysis_inputs(read_results(path))
    pd.testing.assert_frame_equal(quality, inputs[0])
    pd.testing.assert_frame_equal(predictions, inputs[1])


def test_legacy_results_file_reads_as_the_tidy_table(inputs, tmp_path):
    run = tmp_path / "20250101-000000-abcd"
    run.mkdir()
    inputs[0].to_parquet(run / "results.parquet")
    results = read_results(run / "results.parquet")
    assert tuple(results.columns) == RESULTS_COLUMNS and set(results["run"]) == {run.name}
    pd.testing.assert_frame_equal(analysis_inputs(results)[0], inputs[0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.drop(columns="run"), "Expected columns"),
        (lambda r: pd.concat([r, r.iloc[:1]]), "one row per"),
        (lambda r: r.assign(value=r["value"].where(r.index != 0)), "NaN or text"),
        (lambda r: r.assign(value=np.where(r["metric"] == "prob", 1.5, r["value"])), "probabilities outside"),
        (
            lambda r: r.assign(value=np.where(r["metric"] == "label", 2.0, r["value"])),
            "labels other than 0/1",
        ),
        (
            lambda r: r.assign(model=np.where(r["metric"] == "psnr", "HR", r["model"])).iloc[[0]],
            "rows for HR",
        ),
    ],
)
def test_invalid_results_are_refused_on_write_naming_the_file(inputs, tmp_path, change, message):
    path = tmp_path / "results.parquet"
    with pytest.raises(UserError, match=message) as error:
        write_results(path, change(tidy_results("run-1", *inputs)))
    assert str(path) in str(error.value) and not path.exists()


def test_invalid_results_are_refused_on_read(inputs, tmp_path):
    path = tmp_path / "results.parquet"
    tidy_results("run-1", *inputs).rename(columns={"image": "img"}).to_parquet(path)
    with pytest.raises(UserError, match=f"Expected columns .* in {path}"):
        read_results(path)


def test_fixed_threshold_records_drop_only_the_youden_rows():
    records = [
        {"metric": "accuracy", "threshold": "0.5"},
        {"metric": "accuracy", "threshold": "youden-hr"},
        {"metric": "auroc", "threshold": ""},
    ]
    assert at_fixed_threshold(records) == [records[0], records[2]]
