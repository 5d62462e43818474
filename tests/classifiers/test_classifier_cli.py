"""`python -m benchmark train-classifier`: trains once (cached), writes model, history and test scores."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmark.commands.cli import main

pytestmark = pytest.mark.slow


def _train(runs, out) -> int:
    return main(
        [
            "train-classifier",
            "--suite",
            "pneumonia-mini-train",
            "--smoke",
            "--runs-dir",
            str(runs),
            "--out",
            str(out),
            "--quiet",
        ]
    )


def test_train_classifier_writes_model_history_and_scores_and_reuses_the_cache(tmp_path, capsys):
    assert _train(tmp_path / "runs", tmp_path / "out") == 0
    assert "test split, 8 images: loss" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "evaluation.json").read_text())
    assert report["scores"]["n_images"] == 8 and 0 <= report["scores"]["accuracy"] <= 1
    assert report["recipe"]["epochs"] == 2 and report["input_size"] == 96
    assert list(pd.read_csv(tmp_path / "out" / "history.csv")["epoch"]) == [1, 2]
    cached = sorted((tmp_path / "runs" / ".cache" / "classifier").rglob("*.keras"))
    assert len(cached) == 1

    assert _train(tmp_path / "runs", tmp_path / "again") == 0
    again = json.loads((tmp_path / "again" / "evaluation.json").read_text())
    assert again["model_sha256"] == report["model_sha256"] and again["scores"] == report["scores"]
    assert sorted((tmp_path / "runs" / ".cache" / "classifier").rglob("*.keras")) == cached


def test_train_classifier_refuses_a_suite_with_a_given_model_file(tmp_path, capsys):
    suite = tmp_path / "given.yaml"
    (tmp_path / "mine.keras").write_bytes(b"")
    suite.write_text(
        "name: given\ndata: {phantoms: {train_per_class: 2, test_per_class: 2, size: 64}, hr_size: 64}\n"
        "cells: [{scenario: bicubic, scale: 4}]\nsr_models: [{name: bicubic, model: bicubic}]\n"
        "classifier: {weights: mine.keras}\n"
    )
    assert main(["train-classifier", "--suite", str(suite), "--runs-dir", str(tmp_path)]) == 2
    assert "give it a `classifier: {train: {...}}` section" in capsys.readouterr().err
