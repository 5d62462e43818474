"""`python -m benchmark train-classifier`: train a suite's classifier, score it on the eval split."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from benchmark.manifest import sha256_file
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.classifier_setup import (
    classifier_file,
    load_classifier,
    read_training_images,
    training_list,
    training_recipe,
)
from benchmark.pipeline.config import load_suite
from benchmark.pipeline.dataset import load_dataset
from benchmark.pipeline.store import environment
from cxr_kernel.atomic import write_text
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import HISTORY, TRAIN_IMAGES


def train_from_cli(args) -> Path:
    """Train (or take from the cache) the suite's classifier; write model, history and test scores.

    Returns the output folder: ``model.keras`` (``model.pt`` for type torch), ``history.csv`` (the
    file the report plots; with seconds and images/s per epoch), ``train_images.csv`` (the images
    that trained it and their role, fit or validation) and ``evaluation.json`` (binary
    cross-entropy, accuracy at 0.5 and AUROC on the eval split, read from the files by the
    reference's loader). A killed training
    resumes at its next epoch when the same command runs again.
    """
    from classifiers import history_path

    suite = load_suite(args.suite, data_root=args.data_root, smoke=args.smoke)
    if suite.classifier.weights is not None:
        raise UserError(
            f"Suite {suite.name!r} evaluates a given classifier file ({suite.classifier.weights}); "
            "give it a `classifier: {train: {...}}` section to train one."
        )
    progress = not args.quiet
    provenance = environment(suite, "cpu")  # read before training: the commit of the code that trains
    cache = Cache(args.runs_dir / ".cache")
    cache.remove_stale_temporaries()  # e.g. a half-written epoch checkpoint of a killed training
    dataset = load_dataset(
        suite.data, seed=suite.seed, cache=cache, progress=progress, on_bad_image=args.on_bad_image
    )
    train = dataset.split(suite.data.train_split)
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads {args.threads}: give a count >= 1.")
    path = classifier_file(
        suite.classifier, train, seed=suite.seed, cache=cache, progress=progress, threads=args.threads
    )
    out = args.out or args.runs_dir / suite.name / "classifier"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, out / f"model{path.suffix}")
    shutil.copyfile(history_path(path), out / HISTORY)
    trained_on = training_list(suite.classifier, train, seed=suite.seed)
    write_text(out / TRAIN_IMAGES, trained_on.to_csv(index=False))

    test = dataset.split(suite.data.eval_split)
    labels = test["label"].to_numpy()
    probabilities = load_classifier(suite.classifier, path).predict(
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
        "recipe": dataclasses.asdict(training_recipe(suite.classifier.train, suite.classifier.type)),
        "input_size": suite.classifier.input_size,
        "n_train_images": len(train),
        "model_sha256": sha256_file(path),
        "environment": provenance,
    }
    write_text(out / "evaluation.json", json.dumps(report, indent=2, default=str))
    figures = ", ".join(f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float))
    print(f"{suite.data.eval_split} split, {len(test)} images: {figures}")
    return out
