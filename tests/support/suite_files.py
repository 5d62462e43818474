"""Suites for tests: a tiny phantom suite to run from the CLI, and copies of shipped suites with their
paths made absolute, so the copy runs from any folder."""

from pathlib import Path

import yaml

from benchmark.commands.cli import main
from benchmark.pipeline.config import find_suite

#: A suite small enough to run in seconds (phantoms, interpolation, a one-epoch classifier).
RAW = {
    "name": "tiny",
    "seed": 0,
    "data": {"phantoms": {"train_per_class": 2, "test_per_class": 2, "size": 32}, "hr_size": 32},
    "cells": [{"scenario": "bicubic", "scale": 2}],
    "sr_models": [{"name": "bicubic", "model": "bicubic"}],
    "classifier": {"train": {"epochs": 1}, "input_size": 94},
}


def run_cli(tmp_path, raw, *options):
    """`run` a suite mapping written to tmp_path; returns the exit status."""
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return main(["run", "--suite", str(path), "--runs-dir", str(tmp_path / "runs"), "--quiet", *options])


def absolute_suite(folder: Path, name: str, *, changes=lambda raw: None) -> str:
    """Write suite ``name`` to ``folder`` with absolute paths, after ``changes(raw)`` edited its mapping."""
    source = find_suite(name)
    raw = yaml.safe_load(source.read_text())
    classifiers = [raw["classifier"]] if "classifier" in raw else raw["classifiers"]
    entries = [*raw["sr_models"], *raw.get("smoke", {}).get("sr_models", []), *classifiers, raw["data"]]
    for entry in entries:
        for key in ("weights", "manifest", "data_root"):
            if entry.get(key):
                entry[key] = str((source.parent / entry[key]).resolve())
    changes(raw)
    path = Path(folder) / f"{name}-{len(list(Path(folder).glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)
