"""Train the reference CNN on in-memory images and save it atomically."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from benchmark.atomic import atomic_path
from classifiers.model import REFERENCE_INPUT_SIZE, build_reference_cnn
from classifiers.preprocessing import resize_images, to_channels, validate_images
from classifiers.recipe import TrainingRecipe
from classifiers.runtime import keras, tf

MODEL_SUFFIXES = (".keras", ".h5")


def history_path(model_path: Path) -> Path:
    """Where ``train_classifier`` writes the per-epoch metrics of ``model_path``'s training."""
    return model_path.with_suffix(".history.csv")


def _validate_labels(labels: object, n_images: int, name: str) -> np.ndarray:
    """Labels (N,) with values in {0, 1} and both classes present -> float32 (N,)."""
    if not isinstance(labels, np.ndarray) or labels.shape != (n_images,):
        shape = getattr(labels, "shape", type(labels).__name__)
        raise ValueError(f"Expected {name} as a NumPy array of shape ({n_images},), got {shape}.")
    values = set(np.unique(labels).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"Expected {name} in {{0, 1}} (1 = pneumonia), got values {sorted(values)}.")
    if values != {0, 1}:
        raise ValueError(f"Expected both classes 0 and 1 in {name}, got only {sorted(values)}.")
    return labels.astype(np.float32)


#: ``ImageDataGenerator(shear_range=0.2)`` draws a shear ANGLE in degrees from [-0.2, 0.2]; the shear
#: factor of ``keras.layers.RandomShear`` is the tangent of that angle.
SHEAR_DEGREES = 0.2
#: ``ImageDataGenerator(zoom_range=0.2)``: width and height scaled independently by [0.8, 1.2].
ZOOM = 0.2


def augmenter(seed: int) -> keras.Sequential:
    """The reference's augmentation as Keras 3 preprocessing layers (active only when training).

    ``ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)`` becomes
    RandomShear (x shear by tan(+-0.2 degrees): Keras 2 read ``shear_range`` in degrees), RandomZoom
    (height and width independently +-20 %) and RandomFlip("horizontal"), with the generator's
    bilinear interpolation and ``fill_mode="nearest"``. Differences: two resamplings instead of one
    combined affine, and the shear pivots on the image corner, not its centre (under 1 pixel).
    Seeded from ``seed`` so that two trainings with the same seed see the same augmented images.
    """
    fill = {"fill_mode": "nearest", "interpolation": "bilinear"}
    return keras.Sequential(
        [
            keras.layers.RandomShear(x_factor=math.tan(math.radians(SHEAR_DEGREES)), seed=seed, **fill),
            keras.layers.RandomZoom((-ZOOM, ZOOM), (-ZOOM, ZOOM), seed=seed + 1, **fill),
            keras.layers.RandomFlip("horizontal", seed=seed + 2),
        ],
        name="augment",
    )


class _Batches(keras.utils.PyDataset):
    """Batches of (images (B, h, w, C), labels (B,) [, sample weights (B,)]) for ``Model.fit``.

    Holds grayscale images already at the model's size and adds channels per batch, so a data set
    is never stored three times over. With ``rng`` the order is reshuffled every epoch.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        channels: int,
        batch_size: int,
        weights: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        augment: keras.Sequential | None = None,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)  # one worker: batch order is fixed
        self.images, self.labels, self.weights = images, labels, weights
        self.channels, self.batch_size = channels, batch_size
        self.rng, self.augment = rng, augment
        self.order = rng.permutation(len(images)) if rng is not None else np.arange(len(images))

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        idx = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = to_channels(self.images[idx], self.channels)
        if self.augment is not None:
            x = np.clip(np.asarray(self.augment(x, training=True)), 0.0, 1.0)
        batch = (x, self.labels[idx])
        return batch if self.weights is None else (*batch, self.weights[idx])

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.order = self.rng.permutation(len(self.images))


def _checkpoint_path(out_path: Path) -> Path:
    """Where the best epoch is saved while training runs (moved to ``out_path`` at the end)."""
    return out_path.with_name(f"{out_path.stem}.best{out_path.suffix}")


def train_classifier(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    recipe: TrainingRecipe,
    seed: int,
    out_path: Path,
    input_size: int = REFERENCE_INPUT_SIZE,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool = True,
) -> Path:
    """Train ``build_reference_cnn(input_size)`` and save its best epoch to ``out_path``.

    Parameters
    ----------
    images
        float32 (N, H, W) grayscale in [0, 1], any size: resized to ``input_size`` x ``input_size``
        by the classifier's input rule (nearest neighbour) and replicated to 3 channels, as at
        prediction time.
    labels
        (N,) integers, 1 = pneumonia, 0 = normal; both classes present.
    recipe
        Hyper-parameters; see ``TrainingRecipe`` and ``REFERENCE_RECIPE``.
    seed
        Seeds weights, shuffling, augmentation and the validation split. Sets Keras's global seeds
        and turns on TensorFlow op determinism for the whole process (needed for identical
        results on CPU; slower on GPU).
    out_path
        ``.keras`` (or legacy ``.h5``) file, written atomically; missing parent folders are made.
        It holds the epoch with the lowest validation loss (training loss without validation).
        The per-epoch metrics (epoch, loss, accuracy, auc, and their ``val_`` versions when there
        is a validation set) go to ``out_path.with_suffix(".history.csv")``.
    input_size
        Side of the square CNN input.
    validation
        Own (images, labels) validation set, e.g. split by patient; when given,
        ``recipe.validation_fraction`` is ignored. Otherwise that fraction is held out,
        stratified by label.
    progress
        Print one line of metrics per epoch.

    Returns
    -------
    Path
        ``out_path``.
    """
    out_path = Path(out_path)
    if out_path.suffix not in MODEL_SUFFIXES:
        raise ValueError(f"Expected out_path ending in .keras or .h5, got {out_path}.")
    validate_images(images)
    y = _validate_labels(labels, len(images), "labels")
    size = (input_size, input_size)

    if validation is not None:
        val_images = validate_images(validation[0], "validation images")
        val_y = _validate_labels(validation[1], len(val_images), "validation labels")
        train_images, train_y = images, y
    elif recipe.validation_fraction > 0:
        train_idx, val_idx = train_test_split(
            np.arange(len(images)), test_size=recipe.validation_fraction, stratify=y, random_state=seed
        )
        train_images, train_y = images[train_idx], y[train_idx]
        val_images, val_y = images[val_idx], y[val_idx]
    else:
        train_images, train_y, val_images, val_y = images, y, None, None
    if recipe.early_stopping_patience is not None and val_images is None:
        raise ValueError(
            "Expected a validation set for early stopping, got validation_fraction 0 and no "
            "validation. Set validation_fraction > 0, pass validation=, or early_stopping_patience None."
        )

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build_reference_cnn(input_size=input_size)
    channels = model.input_shape[-1]
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=recipe.learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )

    weights = None
    if recipe.class_weight == "balanced":
        per_class = compute_class_weight("balanced", classes=np.array([0.0, 1.0]), y=train_y)
        weights = per_class[train_y.astype(int)].astype(np.float32)
    train_batches = _Batches(
        resize_images(train_images, size),
        train_y,
        channels=channels,
        batch_size=recipe.batch_size,
        weights=weights,
        rng=np.random.default_rng(seed),
        augment=augmenter(seed) if recipe.augment else None,
    )
    val_batches = None
    if val_images is not None:
        val_batches = _Batches(
            resize_images(val_images, size), val_y, channels=channels, batch_size=recipe.batch_size
        )
    monitor = "loss" if val_batches is None else "val_loss"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = _checkpoint_path(out_path)
    callbacks = [keras.callbacks.ModelCheckpoint(checkpoint, monitor=monitor, save_best_only=True)]
    if recipe.early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor, patience=recipe.early_stopping_patience))
    history = model.fit(
        train_batches,
        validation_data=val_batches,
        epochs=recipe.epochs,
        callbacks=callbacks,
        verbose=2 if progress else 0,
    )

    table = pd.DataFrame(history.history)
    table.insert(0, "epoch", np.arange(1, len(table) + 1))
    with atomic_path(history_path(out_path)) as temporary:
        table.to_csv(temporary, index=False)
    checkpoint.replace(out_path)
    return out_path
