"""The evaluation grid on a local process pool and on a local Ray instance gives exactly the tables of an
in-process run, with the LR, SR and IQ values computed by the workers, not the driver."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from benchmark.commands.cli import main
from benchmark.pipeline import stages

pytestmark = pytest.mark.slow

SUITE = """
name: tiny-grid
seed: 3
data: {phantoms: {train_per_class: 4, test_per_class: 5, size: 64}, hr_size: 64}
cells:
  - {scenario: bicubic-noise, scale: 4}
  - {scenario: bicubic, scale: 2}
sr_models:
  - {name: bicubic, model: bicubic}
  - {name: lanczos, model: lanczos, scales: [2]}
  - name: esrgan-tiny
    model: esrgan
    scales: [4]
    train: {preset: tiny-esrgan, max_images: 4, overrides: {pretrain_steps: 1, gan_steps: 1}}
classifier: {train: {epochs: 1, batch_size: 4, augment: false}, input_size: 94}
metrics: [psnr, ssim, mae]
stats: {n_bootstrap: 100}
examples_per_cell: 0
"""
# Trained once by the in-process run and handed to the others, so they differ only in the grid.
SHARED_STAGES = ("phantoms", "hr", "classifier", "sr-train")
GRID_STAGES = ("lr", "sr", "quality")


def _run(suite: Path, runs: Path, *options: str) -> Path:
    assert (
        main(["run", "--suite", str(suite), "--runs-dir", str(runs), "--run-id", "r", "--quiet", *options])
        == 0
    )
    return runs / "tiny-grid" / "r"


def _tables(run: Path) -> dict[str, pd.DataFrame]:
    summary = json.loads((run / "summary.json").read_text())["tables"]
    return {
        "results": pd.read_parquet(run / "results.parquet"),
        "predictions": pd.read_parquet(run / "predictions.parquet"),
        **{name: pd.DataFrame(rows) for name, rows in summary.items()},
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The suite run in-process (the default), and the suite file."""
    root = tmp_path_factory.mktemp("grid")
    suite = root / "tiny-grid.yaml"
    suite.write_text(SUITE)
    return suite, _run(suite, root / "in-process")


def _driver_must_not_compute(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("the driver computed a grid value that a worker should have")

    monkeypatch.setattr(stages, "degrade", refuse)
    monkeypatch.setattr(stages, "measure_quality_batch", refuse)


def _seed_cache(reference_run: Path, runs: Path) -> None:
    for stage in SHARED_STAGES:
        shutil.copytree(reference_run.parent.parent / ".cache" / stage, runs / ".cache" / stage)


@pytest.mark.parametrize("options", [("--workers", "2"), ("--executor", "ray")], ids=["pool", "ray"])
def test_grid_on_workers_equals_the_in_process_run_exactly(reference, options, tmp_path, monkeypatch):
    if "ray" in options:
        ray = pytest.importorskip("ray")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    suite, expected = reference
    _seed_cache(expected, tmp_path)
    _driver_must_not_compute(monkeypatch)
    try:
        run = _run(suite, tmp_path, *options)
    finally:
        if "ray" in options:
            ray.shutdown()
    for stage in GRID_STAGES:
        assert any((tmp_path / ".cache" / stage).rglob("*.*")), stage
    got, want = _tables(run), _tables(expected)
    assert got.keys() == want.keys()
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], check_exact=True, obj=name)
