"""Interrupted and concurrent runs: kill -9 mid-way and resume, two processes on one cache.

The fault-injection test runs a tiny suite (phantoms, interpolation SR, a one-epoch classifier) in
subprocesses: about 60 s of CPU in all, most of it importing TensorFlow three times.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.pipeline.config import PROJECT_DIR

SUITE = {
    "name": "tiny",
    "seed": 0,
    "data": {"phantoms": {"train_per_class": 4, "test_per_class": 3, "size": 32}, "hr_size": 32},
    "cells": [
        {"scenario": scenario, "scale": scale}
        for scenario in ("bicubic", "bicubic-noise")
        for scale in (2, 4)
    ],
    "sr_models": [{"name": "bicubic", "model": "bicubic"}, {"name": "lanczos", "model": "lanczos"}],
    "classifier": {"train": {"epochs": 1, "batch_size": 4, "augment": False}, "input_size": 94},
    "stats": {"n_bootstrap": 100},
    "examples_per_cell": 1,
}
ENV = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_command(suite: Path, runs: Path) -> list[str]:
    return [sys.executable, "-m", "benchmark", "run", "--suite", str(suite), "--runs-dir", str(runs)]


def cache_entries(cache: Path) -> dict[Path, int]:
    """Every finished cache entry (no locks, no temporary files) and its modification time."""
    return {
        path: path.stat().st_mtime_ns
        for path in cache.rglob("*")
        if path.is_file() and ".locks" not in path.parts and ".tmp-" not in path.name
    }


def stage_counts(cache: Path) -> dict[str, int]:
    """Finished entries per stage (keys of predictions differ between runs: a .keras file's bytes do)."""
    return (
        pd.Series([path.relative_to(cache).parts[0] for path in cache_entries(cache)])
        .value_counts()
        .to_dict()
    )


def wait_for(condition, process, timeout=600):
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the run ended (status {process.returncode}) before it could be killed")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("the run made no SR cache entry in time")
        time.sleep(0.02)


def headline(run: Path) -> tuple:
    summary = json.loads((run / "summary.json").read_text())
    return (
        pd.read_parquet(run / "predictions.parquet"),
        pd.read_parquet(run / "results.parquet"),
        summary["tables"],
        summary["n_images"],
    )


@pytest.mark.slow
def test_killed_run_resumes_from_the_cache_and_matches_an_uninterrupted_run(tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    runs = tmp_path / "killed"
    command = [*run_command(suite, runs), "--run-id", "r", "--quiet"]
    killed = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: any((runs / ".cache" / "sr").rglob("*.npy")), killed)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    assert not (runs / "tiny" / "r" / "summary.json").exists()
    before = cache_entries(runs / ".cache")
    assert {path.relative_to(runs / ".cache").parts[0] for path in before} >= {"hr", "lr", "sr", "classifier"}

    resumed = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = cache_entries(runs / ".cache")
    reused = {path for path, mtime in before.items() if after.get(path) == mtime}
    assert reused == set(before), f"recomputed: {sorted(set(before) - reused)[:5]}"
    assert len(after) > len(before)

    fresh = tmp_path / "fresh"
    uninterrupted = subprocess.run(
        [*run_command(suite, fresh), "--run-id", "r", "--quiet"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    assert stage_counts(fresh / ".cache") == stage_counts(runs / ".cache")
    resumed_numbers, fresh_numbers = headline(runs / "tiny" / "r"), headline(fresh / "tiny" / "r")
    pd.testing.assert_frame_equal(resumed_numbers[0], fresh_numbers[0])
    pd.testing.assert_frame_equal(resumed_numbers[1], fresh_numbers[1])
    assert resumed_numbers[2:] == fresh_numbers[2:]


WORKER = """
import sys, time
from pathlib import Path
import numpy as np
from benchmark.pipeline.cache import Cache

cache_dir, log, out, ready = sys.argv[1:5]
Path(ready, sys.argv[5]).touch()
while len(list(Path(ready).iterdir())) < 2:  # start computing together
    time.sleep(0.01)
keys = [f"{i:02x}" + "0" * 62 for i in range(6)]

def compute(batch):
    with open(log, "a") as handle:
        handle.write(" ".join(map(str, batch)) + "\\n")
    time.sleep(0.3)
    return [np.full((8, 8), i, np.float32) for i in batch]

def compute_json():
    with open(log, "a") as handle:
        handle.write("json\\n")
    time.sleep(0.3)
    return 1

values = Cache(Path(cache_dir)).arrays("s", keys, compute, batch_size=2, progress=False)
Cache(Path(cache_dir)).json("j", "ab" * 32, compute_json)
np.save(out, values)
"""


def test_two_processes_on_one_cache_compute_each_entry_once(tmp_path):
    (tmp_path / "ready").mkdir()
    log = tmp_path / "log.txt"
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path / "cache"), str(log), str(tmp_path / f"{n}.npy")]
            + [str(tmp_path / "ready"), str(n)],
            env=ENV,
        )
        for n in range(2)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    lines = log.read_text().split("\n")[:-1]
    computed = sorted(int(i) for line in lines if line != "json" for i in line.split())
    assert computed == list(range(6)) and lines.count("json") == 1
    expected = np.stack([np.full((8, 8), i, np.float32) for i in range(6)])
    for n in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"{n}.npy"), expected)
    assert not [path for path in (tmp_path / "cache").rglob("*") if ".tmp-" in path.name]
