"""The suite's classifier: a user's .keras/.h5 file, or the reference CNN trained on the train split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from benchmark.cache import Cache, content_key
from benchmark.config import ClassifierConfig
from benchmark.errors import UserError
from benchmark.manifest import sha256_file

CLASSIFIER_VERSION = "2"  # 2: validation held out by patient


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


def patient_validation_split(
    labels: np.ndarray, patients: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices holding out about ``fraction`` of the patients, stratified by label.

    Kermany has several images per patient; a split by image would put one patient's images on both
    sides and make validation (and early stopping) optimistic.
    """
    fewest_patients = min(len(set(patients[labels == label])) for label in (0, 1))
    if fewest_patients < 2:
        raise UserError(
            "A validation split needs at least 2 patients of each class in the training split; "
            "set classifier.train.validation_fraction: 0 or add training images."
        )
    folds = min(max(2, round(1 / fraction)), fewest_patients)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return next(splitter.split(np.zeros(len(labels)), labels, groups=patients))


def classifier_file(
    config: ClassifierConfig,
    *,
    train_images: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]],
    train_keys: list[str],
    seed: int,
    cache: Cache,
    progress: bool,
) -> Path:
    """Path of the classifier to evaluate with: the user's file, or a trained one cached by content.

    ``train_keys`` identify the training images (their HR cache keys); ``train_images()`` loads
    (images, labels, patient ids) only when the model has to be trained.
    """
    if config.weights is not None:
        return config.weights
    from classifiers import history_path, train_classifier

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
        images, labels, patients = train_images()
        validation = None
        if recipe.validation_fraction > 0:
            fit, held = patient_validation_split(labels, patients, recipe.validation_fraction, seed)
            images, labels, validation = images[fit], labels[fit], (images[held], labels[held])
        train_classifier(
            images,
            labels,
            validation=validation,
            recipe=recipe,
            seed=seed,
            out_path=temporary,
            input_size=config.input_size,
            progress=progress,
        )
        history_path(temporary).replace(history_path(cache.path("classifier", key, ".keras")))

    return cache.file("classifier", key, ".keras", train)


def load(path: Path):
    from classifiers import load_classifier

    return load_classifier(path), sha256_file(path)
