"""The suite's classifier: a user's .keras/.h5 file, or the reference CNN trained on the train split."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from benchmark.images import read_grayscale
from benchmark.pipeline.cache import Cache, stage_key
from benchmark.pipeline.config import ClassifierConfig
from cxr_kernel.errors import UserError


def training_recipe(overrides: dict, type_name: str = "keras"):
    """The recipe of ``type_name``'s backend with the suite's ``classifier.train`` overrides."""
    from classifiers.backends import backend, trains

    if not trains(type_name):
        raise UserError(
            f"classifier.type {type_name!r} evaluates a given file and trains nothing: remove "
            "classifier.train and give classifier.weights."
        )
    default = backend(type_name).recipe
    valid = {field.name for field in dataclasses.fields(default)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise UserError(f"classifier.train has unknown keys {unknown}. Valid: {sorted(valid)}.")
    try:
        return dataclasses.replace(default, **overrides)
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


def _validation_indices(train: pd.DataFrame, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, validation) row positions of the training split; no validation when ``fraction`` is 0."""
    if fraction == 0:
        return np.arange(len(train)), np.arange(0)
    labels, patients = train["label"].to_numpy(), train["patient_id"].to_numpy()
    return patient_validation_split(labels, patients, fraction, seed)


def training_list(config: ClassifierConfig, train: pd.DataFrame, *, seed: int) -> pd.DataFrame | None:
    """The images that train the suite's classifier, for the run's record; None for a given file.

    Columns image_id, label, patient_id, sha256 and role (``fit`` or ``validation``, the patient-wise
    hold-out that picks the best epoch), in the split's order.
    """
    if config.weights is not None:
        return None
    recipe = training_recipe(config.train, config.type)
    fit, held = _validation_indices(train, recipe.validation_fraction, seed)
    role = np.full(len(train), "fit", dtype=object)
    role[held] = "validation"
    columns = ["image_id", "label", "patient_id", "sha256"]
    return train[columns].assign(role=role)


def read_training_images(paths, size: int) -> np.ndarray:
    """Images as the reference's loader read them: each file resized to ``size`` x ``size`` by nearest
    neighbour (Keras ``flow_from_directory`` default), values in [0, 1]; (N, size, size) float32.

    The reference read RGB; the radiographs have R = G = B, so one gray channel is kept here and
    replicated by the classifier's preprocessing.
    """
    from classifiers.preprocessing import resize_images

    paths = list(paths)
    images = np.empty((len(paths), size, size), dtype=np.float32)
    for index, path in enumerate(paths):
        images[index] = resize_images(read_grayscale(path)[None], (size, size))[0]
    return images


def training_key(config: ClassifierConfig, train: pd.DataFrame, seed: int) -> str:
    """Cache key of a trained classifier: everything ``classifier_file`` reads to train it.

    The training files (sha256, in order), their labels and patient ids (the validation split is
    drawn from those with the recipe's fraction and ``seed``), the recipe, the input size, the seed,
    the Keras backend (``classifiers.runtime`` makes ``KERAS_BACKEND`` decide it; the backends train
    equal within rounding, not bitwise) and the identity of the training code.
    """
    recipe = training_recipe(config.train, config.type)
    # Keras keys keep their parts as before the other types existed.
    kind = {"backend": os.environ.get("KERAS_BACKEND", "tensorflow")}
    if config.type != "keras":
        kind = {"type": config.type, "arch": config.arch}
    return stage_key(
        "classifier",
        recipe=dataclasses.asdict(recipe),
        images=[str(sha) for sha in train["sha256"]],
        labels=[int(label) for label in train["label"]],
        patients=[str(patient) for patient in train["patient_id"]],
        seed=seed,
        input_size=config.input_size,
        **kind,
    )


def classifier_file(
    config: ClassifierConfig,
    train: pd.DataFrame,
    *,
    seed: int,
    cache: Cache,
    progress: bool,
    threads: int | None = None,
) -> Path:
    """Path of the classifier to evaluate with: the user's file, or a trained one cached by content.

    ``train`` is the suite's training split (columns path, sha256, label, patient_id); its files are
    read only when the model has to be trained. Validation images are held out by patient. The
    training checkpoints every epoch into ``<key>.resume`` beside the cache entry, so a killed run
    (``run`` or ``train-classifier``) resumes at the next epoch when started again. ``threads`` sets
    the torch backend's thread count.
    """
    if config.weights is not None:
        return config.weights
    from classifiers import history_path
    from classifiers.backends import backend

    kind = backend(config.type)
    recipe = training_recipe(config.train, config.type)
    key = training_key(config, train, seed)

    def produce(temporary: Path) -> None:
        images = read_training_images(train["path"], config.input_size)
        labels = train["label"].to_numpy()
        validation = None
        if recipe.validation_fraction > 0:
            fit, held = _validation_indices(train, recipe.validation_fraction, seed)
            images, labels, validation = images[fit], labels[fit], (images[held], labels[held])
        kind.train(
            images,
            labels,
            options={"arch": config.arch, "input_size": config.input_size},
            validation=validation,
            recipe=recipe,
            seed=seed,
            out_path=temporary,
            progress=progress,
            resume_dir=cache.path("classifier", key, ".resume"),
            threads=threads,
        )
        history_path(temporary).replace(history_path(cache.path("classifier", key, kind.suffix)))

    return cache.file("classifier", key, kind.suffix, produce)


def training_seeds(config: ClassifierConfig, seed: int) -> list[int]:
    """The training seed of each of the ``config.seeds`` classifiers: the suite's ``seed`` (the primary
    classifier, the one a single-seed run trains), then ``seed + 1``, ... (modulo 2**32, numpy's range).

    Each seed draws its own initial weights, shuffling, augmentation and patient-wise validation split,
    and is part of the classifier's cache key (``training_key``), so every classifier is cached apart.
    """
    return [(seed + index) % 2**32 for index in range(config.seeds)]


def bootstrap_training_split(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A patient bootstrap resample of the training split for training ``seed`` (``bootstrap_train``).

    Patients are drawn with replacement within their stratum (only normal, only pneumonia, or both
    images; ``stats.clustered.cluster_bootstrap_weights``), so the resample keeps each stratum's number
    of patients and every patient's images together; a patient drawn twice appears twice (its rows
    repeated, each under the same patient id, so the patient-wise validation split keeps the copies on
    one side).  Rows keep the split's order.  The generator derives from ``("bootstrap-train", seed)``.
    """
    from benchmark.seeding import item_rng
    from benchmark.stats.clustered import cluster_bootstrap_weights

    patients = train["patient_id"].astype(str).to_numpy()
    counts = cluster_bootstrap_weights(
        train["label"].to_numpy(), patients, 1, item_rng(seed, "bootstrap-train")
    )
    return train.loc[train.index.repeat(counts[0].astype(int))].reset_index(drop=True)


def check_given_classifier(config: ClassifierConfig) -> None:
    """Load the suite's given classifier file and check its weights are finite, before any work.

    A NaN or Inf weight makes every probability NaN, which would otherwise surface only after all
    images were processed, as an error about a results table. A file the backend cannot load (or whose
    input disagrees with the suite's) raises the backend's ValueError, which the CLI prints in one line.
    """
    broken = load_classifier(config, config.weights).nonfinite_weights()
    if broken:
        raise UserError(
            f"Classifier file {config.weights} holds NaN or Inf weights ({', '.join(broken[:3])}"
            f"{', ...' if len(broken) > 3 else ''}): it is damaged or from a diverged training. "
            "Export it again, or train one with the suite's `classifier: {train: ...}` section."
        )


def load_classifier(config: ClassifierConfig, path: Path):
    """The ``classifiers.interface.Classifier`` of ``path`` through the backend of ``config.type``."""
    from classifiers.backends import backend

    # input_size only when the suite sets it: a torch file states its own.
    size = config.input_size if "input_size" in config.model_fields_set else None
    preprocessing = config.preprocessing and config.preprocessing.model_dump()
    return backend(config.type).load(path, arch=config.arch, input_size=size, preprocessing=preprocessing)
