"""One tiny study through the whole flow: phantoms -> degrade -> SR (bicubic + a tiny trained ESRGAN)
-> classifier -> statistics -> report, then a re-run that must come entirely from the cache. (The demo's
phantom fallback, which trains its models; the shipped X-rays with pinned models run in the regression
tests.)"""

import json
from pathlib import Path

import pandas as pd
import pytest

from benchmark.commands.cli import main
from benchmark.pipeline.config import PROJECT_DIR

pytestmark = pytest.mark.slow


def cache_files(cache: Path) -> set[Path]:
    return {p for p in cache.rglob("*") if p.is_file()}


def phantom_demo(runs: Path, run_id: str) -> int:
    return main(
        [
            "run",
            "--suite",
            "demo",
            "--fallback",
            "--smoke",
            "--runs-dir",
            str(runs),
            "--run-id",
            run_id,
            "--quiet",
        ]
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    assert phantom_demo(runs, "first") == 0
    return runs


def test_run_writes_every_artifact(demo_run):
    run = demo_run / "demo-phantom" / "first"
    for name in (
        "config.yaml",
        "environment.json",
        "manifest.sha256",
        "results.parquet",
        "predictions.parquet",
        "summary.json",
        "report.html",
        "tables/classification.csv",
        "examples/index.json",
        "classifier/history.csv",
        "classifier/train_images.csv",
        "resources.json",
    ):
        assert (run / name).is_file(), name


def test_resources_record_time_and_peak_memory_of_every_stage(demo_run):
    record = json.loads((demo_run / "demo-phantom" / "first" / "resources.json").read_text())
    stages = [stage["stage"] for stage in record["stages"]]
    assert stages[:4] == [
        "images: manifest, checks, leakage",
        "classifier: load or train",
        "HR references",
        "SR models: load or train",
    ]
    assert stages[-1] == "statistics and tables"
    assert sum(stage.startswith("cell ") for stage in stages) == 1  # the smoke block's one cell
    for stage in record["stages"]:
        assert stage["seconds"] >= 0 and 0 < stage["stage_peak_rss_mb"] <= stage["process_peak_rss_mb"] + 1


def test_predictions_cover_every_variant_and_image(demo_run):
    predictions = pd.read_parquet(demo_run / "demo-phantom" / "first" / "predictions.parquet")
    assert set(predictions["variant"]) == {"HR", "LR-nearest", "LR-bilinear", "bicubic", "esrgan-tiny"}
    counts = predictions.groupby("variant")["image_id"].nunique()
    assert (counts == 10).all()  # smoke block: 5 test phantoms per class
    assert predictions["prob"].between(0, 1).all()


def test_results_hold_the_gradcam_similarity_to_hr_per_image_and_variant(demo_run):
    results = pd.read_parquet(demo_run / "demo-phantom" / "first" / "results.parquet")
    gradcam = results[results["metric"].str.startswith("gradcam_")]
    counts = gradcam.groupby(["model", "metric"])["image"].nunique()
    assert set(counts.index) == {
        (variant, metric)
        for variant in ("LR-nearest", "LR-bilinear", "bicubic", "esrgan-tiny")
        for metric in ("gradcam_pearson", "gradcam_iou10")
    }
    assert (counts == 10).all()
    finite = gradcam["value"].dropna()
    assert finite.between(-1, 1).all()


def test_every_example_image_has_its_gradcam_map_beside_it(demo_run):
    run = demo_run / "demo-phantom" / "first"
    examples = json.loads((run / "examples" / "index.json").read_text())
    assert examples
    for example in examples:
        assert example["gradcam"].keys() == example["images"].keys()
        for path in example["gradcam"].values():
            assert (run / path).read_bytes().startswith(b"\x89PNG")


def test_summary_is_marked_synthetic_and_has_paired_tests(demo_run):
    summary = json.loads((demo_run / "demo-phantom" / "first" / "summary.json").read_text())
    assert summary["synthetic_data"] is True
    tests = pd.DataFrame(summary["tables"]["paired_tests"])
    assert {"mcnemar", "delong"} <= set(tests["test"])
    assert "synthetic" in (demo_run / "demo-phantom" / "first" / "report.html").read_text().lower()


def test_rerun_computes_nothing_new(demo_run):
    before = cache_files(demo_run / ".cache")
    assert phantom_demo(demo_run, "second") == 0
    assert cache_files(demo_run / ".cache") == before
    first = pd.read_parquet(demo_run / "demo-phantom" / "first" / "predictions.parquet")
    second = pd.read_parquet(demo_run / "demo-phantom" / "second" / "predictions.parquet")
    pd.testing.assert_frame_equal(first, second)


def test_real_xrays_run_through_the_mini_manifest_and_match_the_stored_baseline(tmp_path, capsys):
    assert main(["run", "--suite", "pneumonia-mini", "--smoke", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    (run,) = (tmp_path / "pneumonia-mini").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["synthetic_data"] is False and summary["n_images"]["eval"] == 12
    baseline = PROJECT_DIR / "data_manifests" / "baselines" / "pneumonia-mini-smoke.json"
    assert main(["check", str(run), "--baseline", str(baseline)]) == 0, capsys.readouterr().out


def test_suite_with_official_layout_weights_and_a_user_classifier_file(tmp_path):
    """`model: realesrgan, weights: ...` (keys under params_ema, as in RealESRGAN_x4plus.pth) and
    `classifier: {weights: my.keras}` run end to end; nothing is trained."""
    import torch
    import yaml

    from classifiers import build_reference_cnn
    from sr_models.archs.rrdbnet import RRDBNet

    torch.manual_seed(0)
    net = RRDBNet(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)
    torch.save({"params_ema": net.state_dict()}, tmp_path / "RealESRGAN_tiny.pth")
    build_reference_cnn(input_size=96).save(tmp_path / "mine.keras")
    suite = {
        "name": "weights-given",
        "data": {"phantoms": {"train_per_class": 2, "test_per_class": 3, "size": 64}, "hr_size": 64},
        "cells": [{"scenario": "bicubic", "scale": 4}],
        "sr_models": [{"name": "rg", "model": "realesrgan", "weights": "RealESRGAN_tiny.pth"}],
        "classifier": {"weights": "mine.keras"},
        "stats": {"n_bootstrap": 200},
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    runs = tmp_path / "runs"
    assert main(["run", "--suite", str(tmp_path / "suite.yaml"), "--runs-dir", str(runs), "--quiet"]) == 0
    (run,) = (runs / "weights-given").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["classifier"]["source"] == "file" and not (runs / ".cache" / "sr-train").exists()
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert set(predictions["variant"]) == {"HR", "LR-nearest", "LR-bilinear", "rg"}
