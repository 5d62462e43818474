"""Train the reference CNN on in-memory images, resumably, and save it atomically."""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from classifiers import checkpoints
from classifiers.augmentation import augment_batch, augmenter, batch_seed
from classifiers.model import REFERENCE_INPUT_SIZE, build_reference_cnn
from classifiers.preprocessing import resize_images, to_channels, validate_images
from classifiers.recipe import TrainingRecipe
from classifiers.runtime import backend_name, configure_backend, keras
from classifiers.training_files import fingerprint, history_path
from cxr_kernel.atomic import atomic_path
from cxr_kernel.errors import UserValueError

MODEL_SUFFIXES = (".keras", ".h5")


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


class _Batches(keras.utils.PyDataset):
    """Batches of (images (B, h, w, C), labels (B,) [, sample weights (B,)]) for ``Model.fit``.

    Holds grayscale images already at the model's size and adds channels per batch, so a data set
    is never stored three times over. With ``rng`` the order is reshuffled every epoch. A batch is
    a pure function of (order, ``epoch``, index): Keras prefetches batches in a background thread,
    sometimes for an iterator it then discards, so a batch must not advance any state.
    ``epoch`` is set by the training's ``EpochCheckpoint`` callback.
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
        augment_seed: int = 0,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)  # one worker: batch order is fixed
        self.images, self.labels, self.weights = images, labels, weights
        self.channels, self.batch_size = channels, batch_size
        self.rng, self.augment, self.augment_seed = rng, augment, augment_seed
        self.order = rng.permutation(len(images)) if rng is not None else np.arange(len(images))
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        idx = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        x = to_channels(self.images[idx], self.channels)
        if self.augment is not None:
            x = augment_batch(self.augment, x, batch_seed(self.augment_seed, self.epoch, index))
        batch = (x, self.labels[idx])
        return batch if self.weights is None else (*batch, self.weights[idx])

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.order = self.rng.permutation(len(self.images))

    def get_state(self) -> dict[str, Any]:
        """What the next epoch's batches depend on besides its number: the order and shuffling state."""
        rng = None if self.rng is None else self.rng.bit_generator.state
        return {"order": self.order.copy(), "rng": rng}

    def set_state(self, state: dict[str, Any]) -> None:
        """Undo everything since ``get_state``: the next epoch draws exactly the batches it would have."""
        self.order = np.asarray(state["order"])
        if self.rng is not None:
            self.rng.bit_generator.state = state["rng"]


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
    resume_dir: Path | None = None,
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
        and turns on the backend's op determinism for the whole process (needed for identical
        results on CPU; slower on GPU).
    out_path
        ``.keras`` (or legacy ``.h5``) file, written atomically; missing parent folders are made.
        It holds the epoch with the lowest validation loss (training loss without validation).
        The per-epoch metrics (epoch, loss, accuracy, auc, and their ``val_`` versions when there
        is a validation set; ``seconds``, the epoch's wall time, and ``images_per_second``, training
        images over the training pass's time) go to ``out_path.with_suffix(".history.csv")``.
    input_size
        Side of the square CNN input.
    validation
        Own (images, labels) validation set, e.g. split by patient; when given,
        ``recipe.validation_fraction`` is ignored. Otherwise that fraction is held out,
        stratified by label.
    progress
        Print one line per epoch: time, images/s and metrics.
    resume_dir
        Folder of per-epoch checkpoints (default ``checkpoints.resume_folder(out_path)``,
        ``<stem>.resume`` beside ``out_path``). A training killed after epoch k and called again
        with the same inputs resumes at epoch k + 1 and, on the same machine and backend, ends
        bit-identical to an uninterrupted one. Removed once ``out_path`` is written.

    Raises
    ------
    ValueError
        For invalid inputs, or a resume folder holding another training's checkpoint.
    RuntimeError
        If no epoch gave a finite monitored loss (nothing to save).

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
        raise UserValueError(
            "Expected a validation set for early stopping, got validation_fraction 0 and no "
            "validation. Set validation_fraction > 0, pass validation=, or early_stopping_patience None."
        )

    keras.utils.set_random_seed(seed)
    configure_backend()
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
        augment_seed=seed,
    )
    val_batches = None
    if val_images is not None:
        val_batches = _Batches(
            resize_images(val_images, size), val_y, channels=channels, batch_size=recipe.batch_size
        )
    monitor = "loss" if val_batches is None else "val_loss"
    out_path.parent.mkdir(parents=True, exist_ok=True)

    folder = Path(resume_dir) if resume_dir is not None else checkpoints.resume_folder(out_path)
    settings = {"recipe": dataclasses.asdict(recipe), "seed": seed, "input_size": input_size}
    settings["backend"] = backend_name()
    identity = fingerprint([train_images, train_y, weights, val_images, val_y], settings)
    resumed = _resume(model, folder, identity, progress)
    tracker = checkpoints.EpochCheckpoint(
        folder,
        batches=train_batches,
        monitor=monitor,
        patience=recipe.early_stopping_patience,
        epochs=recipe.epochs,
        n_train=len(train_y),
        identity=identity,
        resumed=resumed,
        progress=progress,
    )
    done = 0 if resumed is None else resumed[0]["epoch"]
    if done < recipe.epochs and not tracker.stopped:
        model.fit(
            train_batches,
            validation_data=val_batches,
            epochs=recipe.epochs,
            initial_epoch=done,
            # _Batches shuffles; Keras' own shuffle of batch indices draws from Python's global
            # random state in a prefetch thread, which no checkpoint can restore.
            shuffle=False,
            callbacks=[tracker],
            verbose=0,
        )
    if tracker.best_weights is None:
        raise RuntimeError(
            f"Training gave no finite {monitor} in {len(tracker.history)} epoch(s), so there is no best "
            f"epoch to save to {out_path}. Lower the learning rate or check the images; delete {folder} "
            "to train from the start."
        )

    model.set_weights(tracker.best_weights)
    with atomic_path(out_path) as temporary:
        model.save(temporary)
    with atomic_path(history_path(out_path)) as temporary:
        pd.DataFrame(tracker.history).to_csv(temporary, index=False)
    shutil.rmtree(folder, ignore_errors=True)
    return out_path


def _resume(model: keras.Model, folder: Path, identity: str, progress: bool) -> tuple[dict, dict] | None:
    """Load the latest checkpoint in ``folder`` into ``model`` (weights, optimizer); its (meta, arrays).

    None when there is nothing to resume. A checkpoint of other inputs, settings or backend is refused.
    """
    latest = checkpoints.latest_checkpoint(folder)
    if latest is None:
        return None
    meta, arrays = checkpoints.read_checkpoint(latest)
    if meta.get("fingerprint") != identity:
        raise UserValueError(
            f"Expected the checkpoint {latest} to be of this training (same images, labels, recipe, "
            f"seed, input size and Keras backend), got one of another (backend {meta.get('backend')!r}). "
            f"Delete {folder} to train from the start, or give another resume folder."
        )
    model.set_weights(arrays["weights"])
    checkpoints.restore_optimizer(model, arrays["optimizer"], latest)
    if progress:
        print(f"Resuming after epoch {meta['epoch']} from {latest}", flush=True)
    return meta, arrays
