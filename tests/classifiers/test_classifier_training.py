"""Training the reference CNN: learning, determinism, outputs, recipe checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from classifiers import REFERENCE_RECIPE, TrainingRecipe, load_classifier, train_classifier
from classifiers.augmentation import augment_batch, batch_seed
from classifiers.runtime import keras
from classifiers.training import augmenter, history_path

SMALL = 96
RECIPE = TrainingRecipe(epochs=5, batch_size=8, validation_fraction=0.25, augment=True)


def _blob_images(n: int, rng: np.random.Generator, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Noisy flat images; label 1 adds a bright Gaussian blob at a random place."""
    labels = np.arange(n) % 2
    yy, xx = np.mgrid[:size, :size]
    images = 0.3 + 0.05 * rng.standard_normal((n, size, size))
    for i in np.flatnonzero(labels):
        cy, cx = rng.uniform(0.3 * size, 0.7 * size, 2)
        images[i] += 0.5 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 6.0**2))
    return np.clip(images, 0, 1).astype(np.float32), labels


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    return {"train": _blob_images(48, rng), "held": _blob_images(40, rng)}


def _train(data, out: Path) -> Path:
    """The recipe under test (augmentation on, stratified split) at seed 0."""
    images, labels = data["train"]
    return train_classifier(
        images, labels, recipe=RECIPE, seed=0, out_path=out, input_size=SMALL, progress=False
    )


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory) -> Path:
    return _train(data, tmp_path_factory.mktemp("cnn") / "sub" / "cnn.keras")


def test_training_on_separable_images_beats_chance_on_held_images(trained, data):
    images, labels = data["held"]
    probs = load_classifier(trained).predict(images)
    assert roc_auc_score(labels, probs) > 0.9
    assert np.mean((probs > 0.5) == labels) >= 0.75


def test_training_writes_model_and_history_without_temporary_files(trained):
    assert trained.name == "cnn.keras" and trained.is_file()
    history = pd.read_csv(history_path(trained))
    assert history_path(trained).name == "cnn.history.csv"
    assert list(history["epoch"]) == [1, 2, 3, 4, 5]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)
    assert sorted(p.name for p in trained.parent.iterdir()) == ["cnn.history.csv", "cnn.keras"]


def test_reference_recipe_is_the_studys():
    assert (REFERENCE_RECIPE.epochs, REFERENCE_RECIPE.batch_size, REFERENCE_RECIPE.learning_rate) == (
        50,
        128,
        1e-3,
    )
    assert REFERENCE_RECIPE.augment and REFERENCE_RECIPE.class_weight is None


def test_augmentation_is_seeded_and_only_active_in_training():
    x = np.random.default_rng(0).random((4, SMALL, SMALL, 3)).astype(np.float32)
    first = np.asarray(augmenter(7)(x, training=True))
    assert not np.array_equal(first, x)
    np.testing.assert_array_equal(np.asarray(augmenter(7)(x, training=True)), first)
    np.testing.assert_array_equal(np.asarray(augmenter(7)(x, training=False)), x)


def test_a_training_batch_is_augmented_by_its_seed_alone():
    x = np.random.default_rng(0).random((4, SMALL, SMALL, 3)).astype(np.float32)
    layers = augmenter(7)
    first = augment_batch(layers, x, batch_seed(7, epoch=2, index=5))
    assert first.shape == x.shape and not np.array_equal(first, x)
    assert 0 <= first.min() and first.max() <= 1
    layers(x, training=True)  # advancing the layers' own seed generators changes nothing
    augment_batch(layers, x, batch_seed(7, epoch=0, index=0))
    np.testing.assert_array_equal(augment_batch(layers, x, batch_seed(7, epoch=2, index=5)), first)
    assert not np.array_equal(augment_batch(layers, x, batch_seed(7, epoch=3, index=5)), first)
    assert len({batch_seed(seed, epoch, 0) for seed in (0, 1) for epoch in range(50)}) == 100


def test_two_epochs_twice_with_the_same_seed_give_identical_weights(data, tmp_path):
    images, labels = data["train"][0][:16], data["train"][1][:16]
    recipe = TrainingRecipe(epochs=2, batch_size=8, validation_fraction=0.25, early_stopping_patience=None)
    weights = []
    for run in ("a", "b"):
        out = train_classifier(
            images,
            labels,
            recipe=recipe,
            seed=3,
            out_path=tmp_path / f"{run}.keras",
            input_size=SMALL,
            progress=False,
        )
        weights.append(keras.models.load_model(out).get_weights())
    assert len(weights[0]) == 16  # 5 conv + 3 dense layers, kernel and bias each
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)


def test_the_saved_model_is_the_best_validation_epoch(data, tmp_path):
    recipe = TrainingRecipe(epochs=3, batch_size=16, augment=False, early_stopping_patience=None)
    out = train_classifier(
        *data["train"],
        recipe=recipe,
        seed=1,
        out_path=tmp_path / "cnn.h5",
        input_size=SMALL,
        validation=data["held"],
        progress=False,
    )
    history = pd.read_csv(history_path(out))
    assert len(history) == 3 and "val_loss" in history.columns
    images, labels = data["held"]
    saved_loss = log_loss(labels, load_classifier(out).predict(images).astype(np.float64))
    assert saved_loss == pytest.approx(history["val_loss"].min(), rel=1e-4)


def test_early_stopping_without_validation_is_refused(data, tmp_path):
    recipe = TrainingRecipe(epochs=1, validation_fraction=0.0, early_stopping_patience=2)
    with pytest.raises(ValueError, match="validation set for early stopping"):
        train_classifier(*data["train"], recipe=recipe, seed=0, out_path=tmp_path / "m.keras")


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros(48, int), r"both classes.*\[0\]"),
        (np.arange(48) % 3, r"\{0, 1\}.*\[0, 1, 2\]"),
        (np.zeros(47, int), r"shape \(48,\)"),
    ],
)
def test_training_refuses_bad_labels(data, tmp_path, labels, message):
    with pytest.raises(ValueError, match=message):
        train_classifier(data["train"][0], labels, recipe=RECIPE, seed=0, out_path=tmp_path / "m.keras")


def test_training_refuses_an_unknown_model_suffix(data, tmp_path):
    with pytest.raises(ValueError, match=r"\.keras or \.h5"):
        train_classifier(*data["train"], recipe=RECIPE, seed=0, out_path=tmp_path / "m.pt")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("batch_size", 0),
        ("learning_rate", 0.0),
        ("validation_fraction", 1.0),
        ("class_weight", "auto"),
        ("early_stopping_patience", 0),
    ],
)
def test_recipe_refuses_invalid_values(field, value):
    with pytest.raises(ValueError, match=field):
        TrainingRecipe(**{field: value})
