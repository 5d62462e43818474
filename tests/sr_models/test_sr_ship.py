"""`ship-sr`: the shipped generator loads under its model name, its sidecar records the training, and the
image quality it states is what `run` computes for that file on the same images."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from benchmark.commands.cli import main
from benchmark.pipeline.config import PROJECT_DIR
from cxr_kernel import run_layout
from sr_models import load_upscaler
from sr_models.archs import SRVGGNetCompact
from tests.support.suite_files import absolute_suite

pytestmark = pytest.mark.slow

MINI = PROJECT_DIR / "data" / "pneumonia-mini"


def _suite(folder, sr_models):
    def changes(raw):
        raw["data"]["max_eval_per_class"] = 2
        raw["cells"] = [{"scenario": "bicubic", "scale": 4}, {"scenario": "telemed", "scale": 4}]
        raw["sr_models"] = [{"name": "bicubic", "model": "bicubic"}, *sr_models]
        raw["stats"] = {"n_bootstrap": 100}
        raw.pop("smoke")

    return absolute_suite(folder, "pneumonia-mini", changes=changes)


def test_shipped_generator_quality_is_what_run_computes(tmp_path, capsys):
    torch.manual_seed(0)
    init = tmp_path / "compact.pth"
    torch.save({"params": SRVGGNetCompact(num_feat=8, num_conv=2).state_dict()}, init)
    config = tmp_path / "tiny.yaml"
    config.write_text("hr_patch: 32\nbatch_size: 2\npretrain_steps: 3\ncheckpoint_every: 2\n")
    trained = tmp_path / "trained"
    assert main(
        ["train-sr", "--model", "realesrgan-compact", "--preset", "finetune-l1", "--config", str(config),
         "--init-weights", str(init), "--scenario", "telemed", "--manifest",
         str(PROJECT_DIR / "data_manifests" / "pneumonia-mini.csv"), "--data-root", str(MINI),
         "--hr-size", "224", "--max-images", "6", "--threads", "1", "--out", str(trained), "--quiet"]
    ) == 0  # fmt: skip
    shipped = tmp_path / "ship" / "cxr-tiny.pth"
    runs = ["--runs-dir", str(tmp_path / "runs")]
    suite = _suite(tmp_path, [])
    assert (
        main(["ship-sr", "--from", str(trained), "--to", str(shipped), "--suite", suite, *runs, "--quiet"])
        == 0
    )
    sidecar = json.loads(shipped.with_suffix(".json").read_text())
    assert sidecar["model"] == "realesrgan-compact" and sidecar["scenario"] == "telemed"
    assert sidecar["training"]["patches_seen"] == 6 and sidecar["training"]["patients_excluded"]
    assert set(torch.load(shipped, weights_only=True)) == {"params", "arch"}
    load_upscaler(sidecar["model"], 4, shipped, device="cpu")

    # `run` on another cache: nothing is reused from the shipping's evaluation
    entry = {"name": "cxr-tiny", "model": "realesrgan-compact", "weights": str(shipped)}
    start = {"name": "start-compact", "model": "realesrgan-compact", "weights": str(init)}
    other = ["--runs-dir", str(tmp_path / "runs-2")]
    suite = _suite(tmp_path, [entry, start])
    assert main(["run", "--suite", suite, *other, "--run-id", "r", "--quiet"]) == 0
    results = pd.read_parquet(tmp_path / "runs-2" / "pneumonia-mini" / "r" / run_layout.RESULTS)
    assert set(sidecar["evaluation"]["cells"]["telemed-x4"]["psnr"]) == {
        "bicubic",
        "cxr-tiny",
        "start-compact",
    }
    for cell, stated in sidecar["evaluation"]["cells"].items():
        for metric in ("psnr", "ssim"):
            for variant, value in stated[metric].items():
                rows = results[(results["cell"] == cell) & (results["model"] == variant)]
                computed = rows.loc[rows["metric"] == metric, "value"]
                assert len(computed) == stated["images"] == 4
                assert computed.mean() == pytest.approx(value, abs=1e-12), (cell, variant, metric)
