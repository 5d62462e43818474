"""The suite's classifier: a user's .keras/.h5 file, or the reference CNN trained on the train split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmark.cache import Cache, content_key
from benchmark.config import ClassifierConfig
from benchmark.errors import UserError
from benchmark.manifest import sha256_file

CLASSIFIER_VERSION = "1"


def training_recipe(overrides: dict):
    from classifiers import REFERENCE_RECIPE

    valid = {field.name for field in dataclasses.fields(REFERENCE_RECIPE)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise UserError(f"classifier.train has unknown keys {unknown}. Valid: {sorted(valid)}.")
    try:
        return dataclasses.replace(REFERENCE_RECIPE, **overrides)
    except ValueError as error:
        raise UserError(f"classifier.train: {error}") from None


def classifier_file(
    config: ClassifierConfig,
    *,
    train_images: Callable[[], tuple[np.ndarray, np.ndarray, list[str]]],
    train_keys: list[str],
    seed: int,
    cache: Cache,
    progress: bool,
) -> Path:
    """Path of the classifier to evaluate with: the user's file, or a trained one cached by content.

    ``train_keys`` identify the training images (their HR cache keys); ``train_images()`` loads them
    only when the model has to be trained.
    """
    if config.weights is not None:
        return config.weights
    from classifiers import train_classifier

    recipe = training_recipe(config.train)
    key = content_key(
        "classifier",
        CLASSIFIER_VERSION,
        recipe=dataclasses.asdict(recipe),
        images=train_keys,
        seed=seed,
        input_size=config.input_size,
    )

    def train(temporary: Path) -> None:
        images, labels, _ = train_images()
        train_classifier(
            images,
            labels,
            recipe=recipe,
            seed=seed,
            out_path=temporary.with_suffix(".keras"),
            input_size=config.input_size,
            progress=progress,
        )
        temporary.with_suffix(".keras").replace(temporary)
        temporary.with_suffix(".history.csv").replace(cache.path("classifier", key, ".history.csv"))

    return cache.file("classifier", key, ".keras", train)


def load(path: Path):
    from classifiers import load_classifier

    return load_classifier(path), sha256_file(path)
