"""`python -m benchmark train-classifier`: train a suite's classifier, score it on the eval split."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from benchmark.atomic import write_text
from benchmark.cache import Cache
from benchmark.classifier_setup import classifier_file, read_training_images, training_recipe
from benchmark.config import load_suite
from benchmark.dataset import load_dataset
from benchmark.errors import UserError
from benchmark.manifest import sha256_file
from benchmark.store import environment


def train_from_cli(args) -> Path:
    """Train (or take from the cache) the suite's classifier; write model, history and test scores.

    Returns the output folder: ``model.keras``, ``history.csv`` (the file the report plots) and
    ``evaluation.json`` (binary cross-entropy, accuracy at 0.5 and AUROC on the eval split, read
    from the files by the reference's loader).
    """
    from classifiers import history_path, load_classifier

    suite = load_suite(args.suite, data_root=args.data_root, smoke=args.smoke)
    if suite.classifier.weights is not None:
        raise UserError(
            f"Suite {suite.name!r} evaluates a given classifier file ({suite.classifier.weights}); "
            "give it a `classifier: {train: {...}}` section to train one."
        )
    progress = not args.quiet
    cache = Cache(args.runs_dir / ".cache")
    cache.remove_stale_temporaries()  # e.g. a .best.keras of a training killed earlier
    dataset = load_dataset(
        suite.data, seed=suite.seed, cache=cache, progress=progress, on_bad_image=args.on_bad_image
    )
    path = classifier_file(
        suite.classifier,
        dataset.split(suite.data.train_split),
        seed=suite.seed,
        cache=cache,
        progress=progress,
    )
    out = args.out or args.runs_dir / suite.name / "classifier"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out / "model.keras")
    shutil.copyfile(history_path(path), out / "history.csv")

    test = dataset.split(suite.data.eval_split)
    labels = test["label"].to_numpy()
    probabilities = load_classifier(path).predict(
        read_training_images(test["path"], suite.classifier.input_size)
    )
    scores = {
        "split": suite.data.eval_split,
        "n_images": len(test),
        "loss": log_loss(labels, probabilities.astype(np.float64), labels=[0, 1]),
        "accuracy": accuracy_score(labels, probabilities >= 0.5),
        "auroc": roc_auc_score(labels, probabilities) if len(set(labels)) == 2 else None,
    }
    report = {
        "suite": suite.name,
        "scores": scores,
        "recipe": dataclasses.asdict(training_recipe(suite.classifier.train)),
        "input_size": suite.classifier.input_size,
        "n_train_images": len(dataset.split(suite.data.train_split)),
        "model_sha256": sha256_file(path),
        "environment": environment(suite, "cpu"),
    }
    write_text(out / "evaluation.json", json.dumps(report, indent=2, default=str))
    figures = ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float))
    print(f"{suite.data.eval_split} split, {len(test)} images: {figures}")
    return out
