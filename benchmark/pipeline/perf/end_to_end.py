"""Whole-suite figures, each run in a child process: the mini suite cold and warm, and memory vs images.

The memory probe runs one phantom suite at two evaluation-set sizes; if the pipeline held only one
batch of full-size images at a time, its peak would not grow with the number of images.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmark.pipeline.perf.measure import CHILD_MARKER as MARKER
from benchmark.pipeline.perf.results import Results
from benchmark.pipeline.store import RunStore
from cxr_kernel import run_layout

_REPO = Path(__file__).resolve().parents[2]


def run_child(command: list[str], *, trace: bool = False, timeout: float = 1800) -> dict[str, Any]:
    """Run ``python -m benchmark <command>`` in a fresh process; returns its figures (see ``child``)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")])),
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmark.commands.perf_child",
            *(["--trace"] if trace else []),
            "--",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"`python -m benchmark {' '.join(command)}` failed (exit {completed.returncode}): "
            f"{completed.stderr.strip()[-800:]}"
        )
    return json.loads(lines[-1][len(MARKER) :])


def _as_figure(child: dict[str, Any], images: int) -> dict[str, Any]:
    return {
        "images_per_s": images / child["seconds"],
        "seconds": [child["seconds"]],
        "items": images,
        "repeats": 1,
        "peak_traced_mb": child["peak_traced_mb"],
        "max_rss_mb": child["max_rss_mb"],
        "cuda_peak_mb": None,
    }


def _stages(run_dir: Path) -> dict[str, Any]:
    return RunStore(run_dir).read_json(run_layout.RESOURCES)


def _eval_images(run_dir: Path) -> int:
    return RunStore(run_dir).read_summary().n_eval


def mini_suite(results: Results, *, data_root: Path | None, device: str, work: Path) -> None:
    """``pneumonia-mini --smoke`` (the shipped X-rays, or ``data_root``), cold cache then warm cache."""
    suite, extra = "pneumonia-mini", (["--data-root", str(data_root)] if data_root else [])
    for state in ("cold", "warm"):
        command = ["run", "--suite", suite, "--smoke", "--runs-dir", str(work), "--run-id", state, "--quiet"]
        child = run_child([*command, *extra, "--device", device])
        images = _eval_images(work / suite / state)
        name = f"{suite} --smoke, {state} cache ({child['seconds']:.1f} s)"
        results.add("end-to-end", name, _as_figure(child, images), suite=suite, cache=state)
        results.add_stages(name, _stages(work / suite / state))


def _probe_classifier(path: Path) -> Path:
    """An untrained reference CNN (96 px input), so the probe's peak is not classifier training's."""
    from classifiers.model import build_reference_cnn

    if not path.is_file():
        build_reference_cnn(input_size=96).save(path)
    return path


def _probe_suite(path: Path, eval_per_class: int, size: int, classifier: Path) -> Path:
    suite = {
        "name": f"memory-probe-{eval_per_class * 2}",
        "data": {
            "phantoms": {"train_per_class": 4, "test_per_class": eval_per_class, "size": size},
            "hr_size": size,
        },
        "cells": [{"scenario": "bicubic", "scale": 4}],
        "sr_models": [{"name": "bicubic", "model": "bicubic"}, {"name": "lanczos", "model": "lanczos"}],
        "classifier": {"weights": str(classifier), "input_size": 96},
        "metrics": ["psnr", "ssim"],
        "stats": {"n_bootstrap": 100},
        "examples_per_cell": 0,
    }
    path.write_text(yaml.safe_dump(suite))
    return path


def memory_scaling(results: Results, *, quick: bool, work: Path) -> None:
    """Peak RSS of one suite at N and 2N evaluation images (60 and 120 at 512 px; quick: 20, 40 at 256).

    The growth is reported as full-size images held per added evaluation image: 0 when the pipeline
    streams batches, about (variants per cell) when it holds every image of every variant.
    Not traced with tracemalloc: that slows the run tenfold and the resident set is what matters.
    """
    sizes, side = ((10, 20), 256) if quick else ((30, 60), 512)
    peaks, classifier = [], _probe_classifier(work / "probe-classifier.keras")
    image_mb = side * side * 4 / 1024.0**2
    for per_class in sizes:
        suite = _probe_suite(work / f"probe-{per_class}.yaml", per_class, side, classifier)
        child = run_child(
            ["run", "--suite", str(suite), "--runs-dir", str(work), "--run-id", "probe", "--quiet"]
        )
        peaks.append(child)
        name = f"phantom suite, {2 * per_class} eval images of {side} px"
        results.add(
            "memory",
            name,
            _as_figure(child, 2 * per_class),
            eval_images=2 * per_class,
            full_size_image_mb=image_mb,
        )
        results.add_stages(name, _stages(work / f"memory-probe-{2 * per_class}" / "probe"))
    small, large = peaks
    added = 2 * (sizes[1] - sizes[0])
    results.add_ratio(
        f"peak RSS {2 * sizes[1]} vs {2 * sizes[0]} images",
        large["max_rss_mb"] / small["max_rss_mb"],
        ours=f"{2 * sizes[1]} images",
        peer=f"{2 * sizes[0]} images",
        images_held_per_added_image=(large["max_rss_mb"] - small["max_rss_mb"]) / (added * image_mb),
    )


def run(results: Results, *, quick: bool, device: str, data_root: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="cxr-perf-") as directory:
        mini_suite(results, data_root=data_root, device=device, work=Path(directory) / "mini")
        memory_scaling(results, quick=quick, work=Path(directory))
