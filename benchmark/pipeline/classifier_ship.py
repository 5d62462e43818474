"""`python -m benchmark ship-classifier`: turn a `train-classifier` output into a shipped classifier file.

Writes ``<to>`` through the backend of the suite's ``classifier.type`` (keras: ``.keras`` without
optimizer state, loadable in Keras safe mode; torch: ``.pt`` with float16 weights and its ONNX export
``<to>.onnx`` beside it) and ``<to>.json``, its sidecar: the command that trained it, git commit,
data checksums, seed, recipe, per-epoch history, wall time, images/s, and the test figures of an
independent evaluation (``benchmark.pipeline.classifier_eval``) of the written file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.manifest import list_checksum, sha256_file
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.classifier_eval import directory_images, evaluate_directory
from benchmark.pipeline.classifier_setup import training_list, training_recipe
from benchmark.pipeline.config import load_suite
from benchmark.pipeline.dataset import load_dataset
from benchmark.pipeline.store import environment
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import HISTORY

#: What ``train-classifier --out`` holds and shipping reads, besides ``model<suffix>`` of the type.
TRAINED_FILES = (HISTORY, "evaluation.json")
# A Keras verbose=2 epoch line: "147/147 - 45s - 306ms/step - accuracy: ...".
_KERAS_EPOCH_LINE = re.compile(r"^\s*\d+/\d+ - (\d+)s - ")


def epoch_seconds_from_log(log: Path) -> list[float]:
    """Per-epoch wall seconds printed by Keras' ``fit(verbose=2)`` in a training log (whole seconds)."""
    matches = (_KERAS_EPOCH_LINE.match(line) for line in log.read_text().splitlines())
    return [float(match.group(1)) for match in matches if match]


def timing(history: pd.DataFrame, n_fit: int, log: Path | None) -> dict:
    """Wall time and images/s of a training, from its history (``seconds`` column) or its log."""
    if "seconds" in history.columns:
        seconds, source = history["seconds"].astype(float).tolist(), "history.csv"
    elif log is not None:
        seconds, source = epoch_seconds_from_log(log), f"Keras epoch lines of {log.name}"
        if len(seconds) != len(history):
            raise UserError(
                f"Expected {len(history)} Keras epoch lines ('N/N - 45s - ...') in {log}, found "
                f"{len(seconds)}. Give the log of the run that wrote this history.csv, or leave --log out."
            )
    else:
        return {"wall_seconds": None, "note": "history.csv has no timings and no --log was given"}
    if "images_per_second" in history.columns:
        rates = history["images_per_second"].astype(float).tolist()
    else:  # Keras' epoch time also covers the validation pass
        rates = [n_fit / s if s > 0 else None for s in seconds]
    return {
        "wall_seconds": float(sum(seconds)),
        "epoch_seconds": seconds,
        "images_per_second": rates,
        "mean_images_per_second": float(np.mean([r for r in rates if r])) if any(rates) else None,
        "source": source,
    }


def _as_module_command(argv: list[str] | None) -> str | None:
    """``python -m benchmark ...`` from a process's ``sys.argv`` (whose first item is __main__.py's path)."""
    return None if not argv else shlex.join(["python", "-m", "benchmark", *argv[1:]])


def _history_rows(history: pd.DataFrame) -> list[dict]:
    return json.loads(history.to_json(orient="records"))


def trained_record(source: Path, model_name: str, suite_name: str, input_size: int) -> dict:
    """``evaluation.json`` of a ``train-classifier --out`` folder, refused unless it describes the
    folder's ``model_name`` (sha256) for this suite and input size."""
    path = source / "evaluation.json"
    try:
        trained = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path} is not valid JSON ({error}). Train again with `train-classifier`.") from None
    if not isinstance(trained, dict):
        raise UserError(f"{path} holds no JSON object. Train again with `train-classifier`.")
    found = {"model_sha256": sha256_file(source / model_name), "suite": suite_name, "input_size": input_size}
    for key, value in found.items():
        if trained.get(key) != value:
            raise UserError(
                f"{source / model_name} is not the model {path} describes: its {key} is "
                f"{trained.get(key)!r}, this ship's {value!r}. Ship the folder `train-classifier` "
                "wrote, unchanged, with the suite that trained it."
            )
    return trained


def land_together(destination: Path, build) -> dict:
    """Build the shipped files in a staging folder beside ``destination``, then move each into place: a
    failure while building leaves the old files byte-identical. ``build(staged_destination)`` writes
    the model (and its exports) there and returns ``(sidecar, files)``; the sidecar lands last."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        sidecar, files = build(staging / destination.name)
        sidecar_file = staging / destination.with_suffix(".json").name
        sidecar_file.write_text(
            json.dumps(sidecar, indent=2, default=str, allow_nan=False) + "\n", encoding="utf-8"
        )
        for file in [*files, sidecar_file]:
            os.replace(file, destination.parent / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sidecar


def ship_from_cli(args) -> Path:
    """Write ``args.to`` and its ``.json`` sidecar from ``args.source`` (train-classifier --out).

    Every input is checked before anything is written; the files land together or not at all.
    """
    from classifiers.backends import backend

    source, destination = Path(args.source), Path(args.to)
    suite = load_suite(args.suite, data_root=args.data_root)
    kind = backend(suite.classifier.type)
    model_name = f"model{kind.suffix}"
    expected = (model_name, *TRAINED_FILES)
    missing = [name for name in expected if not (source / name).is_file()]
    if missing:
        raise UserError(
            f"Expected {', '.join(expected)} in {source}, missing {', '.join(missing)}. Give the "
            "--out folder of a finished `train-classifier` run."
        )
    if destination.suffix != kind.suffix:
        raise UserError(f"Expected --to ending in {kind.suffix}, got {destination}.")
    if suite.classifier.train is None:
        raise UserError(
            f"Suite {suite.name!r} has no `classifier: {{train: ...}}` section; give the suite that "
            "trained the model."
        )
    trained = trained_record(source, model_name, suite.name, suite.classifier.input_size)
    try:
        history = pd.read_csv(source / HISTORY)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise UserError(f"{source / HISTORY} is not a readable CSV ({error}).") from None
    directory_images(args.test_dir)  # both class folders hold images

    dataset = load_dataset(
        suite.data,
        seed=suite.seed,
        cache=Cache(args.runs_dir / ".cache"),
        progress=not args.quiet,
        on_bad_image=args.on_bad_image,
    )
    train, test = dataset.split(suite.data.train_split), dataset.split(suite.data.eval_split)
    roles = training_list(suite.classifier, train, seed=suite.seed)
    n_fit = int((roles["role"] == "fit").sum())
    monitor = "val_loss" if "val_loss" in history.columns else "loss"
    training_environment = trained.get("environment", {})
    run_timing = timing(history, n_fit, args.log)
    best_epoch = int(history.loc[history[monitor].idxmin(), "epoch"])

    def build(staged: Path) -> tuple[dict, list[Path]]:
        shipped = kind.ship(source / model_name, staged)
        sidecar = {
            "model": destination.name,
            "model_sha256": sha256_file(staged),
            "type": suite.classifier.type,
            **{key: value for key, value in shipped.items() if key != "files"},
            "exports": {file.name: sha256_file(file) for file in shipped["files"][1:]},
            "training_command": _as_module_command(training_environment.get("command")),
            "training_git_commit": training_environment.get("git_commit"),
            "training_git_uncommitted_changes": training_environment.get("git_uncommitted_changes"),
            "ship_command": _as_module_command(sys.argv),
            "suite": suite.name,
            "seed": suite.seed,
            "recipe": dataclasses.asdict(training_recipe(suite.classifier.train, suite.classifier.type)),
            "input_size": suite.classifier.input_size,
            "data": {
                "manifest": str(suite.data.manifest) if suite.data.manifest else None,
                "data_root": str(suite.data.data_root) if suite.data.data_root else None,
                "train": {
                    "split": suite.data.train_split,
                    "n_images": len(train),
                    "n_fit": n_fit,
                    "n_validation": len(train) - n_fit,
                    "validation": "patients held out "
                    "(benchmark.pipeline.classifier_setup.patient_validation_split)",
                    "list_sha256": list_checksum(train),
                },
                "test": {
                    "split": suite.data.eval_split,
                    "n_images": len(test),
                    "list_sha256": list_checksum(test),
                },
                "skipped_images": dataset.skipped.to_dict(orient="records"),
                "list_sha256_rule": "sha256 of the sorted '<image sha256>  <path>' lines",
            },
            "history": _history_rows(history),
            "best_epoch": best_epoch,
            "epochs_run": len(history),
            "timing": run_timing,
            "test_metrics": evaluate_directory(staged, args.test_dir, type_name=suite.classifier.type),
            "train_classifier_scores": trained.get("scores"),
            "training_environment": training_environment,
            "ship_environment": environment(suite, "cpu"),
        }
        return sidecar, shipped["files"]

    sidecar_path = destination.with_suffix(".json")
    sidecar = land_together(destination, build)
    metrics = sidecar["test_metrics"]
    names = ("loss", "accuracy", "auroc", "sensitivity", "specificity")
    figures = ", ".join(f"{name} {metrics[name]:.4f}" for name in names)
    print(f"{destination} ({metrics['n_images']} test images in {args.test_dir}): {figures}")
    print(f"Sidecar: {sidecar_path}")
    return destination
