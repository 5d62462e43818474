"""Training recipes of the classifiers (plain data, no TensorFlow or PyTorch import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cxr_kernel.errors import UserValueError


@dataclass(frozen=True)
class TrainingRecipe:
    """How to train the reference CNN (Adam, binary cross-entropy, labels normal=0, pneumonia=1).

    Parameters
    ----------
    epochs
        Passes over the training set (>= 1).
    batch_size
        Images per gradient step (>= 1).
    learning_rate
        Adam step size (> 0).
    validation_fraction
        Share of the training images held out for validation (by patient in the benchmark, see
        ``benchmark.pipeline.classifier_setup``; stratified by label when ``train_classifier`` is given no
        validation set); in [0, 1). 0 trains on everything.
    class_weight
        ``"balanced"`` weighs each class by ``n / (2 * n_class)`` (scikit-learn's rule); ``None``:
        equal weights, as the reference.
    augment
        The reference's ``ImageDataGenerator(shear_range=0.2, zoom_range=0.2, horizontal_flip=True)``
        as Keras preprocessing layers (see ``classifiers.augmentation.augmenter``).
    early_stopping_patience
        Stop after this many epochs without a lower validation loss; ``None`` trains all epochs.
        The saved model is always the best epoch's checkpoint.
    """

    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    class_weight: Literal["balanced"] | None = None
    augment: bool = True
    early_stopping_patience: int | None = 10

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise UserValueError(f"Expected epochs to be an integer >= 1, got {self.epochs!r}.")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise UserValueError(f"Expected batch_size to be an integer >= 1, got {self.batch_size!r}.")
        if not self.learning_rate > 0:
            raise UserValueError(f"Expected learning_rate > 0, got {self.learning_rate!r}.")
        if not 0 <= self.validation_fraction < 1:
            raise UserValueError(f"Expected validation_fraction in [0, 1), got {self.validation_fraction!r}.")
        if self.class_weight not in ("balanced", None):
            raise UserValueError(f"Expected class_weight 'balanced' or None, got {self.class_weight!r}.")
        patience = self.early_stopping_patience
        if patience is not None and not (isinstance(patience, int) and patience >= 1):
            raise UserValueError(
                f"Expected early_stopping_patience to be None or an integer >= 1, got {patience!r}."
            )


#: The reference study's recipe: Adam at Keras's default learning rate 1e-3, binary cross-entropy,
#: batch size 128, 50 epochs, shear/zoom/flip augmentation, no class weights. Our additions: 10 %
#: of the patients held out for validation, early stopping after 10 epochs without a lower
#: validation loss, and the best epoch's weights kept.
REFERENCE_RECIPE = TrainingRecipe()


@dataclass(frozen=True)
class TorchRecipe(TrainingRecipe):
    """How ``classifiers.torch_training`` trains a ``torch`` architecture: the reference recipe as the
    shipped reference CNN was trained (batch 32, balanced class weights, early stopping after 5 epochs,
    at most 20), plus a learning-rate schedule.

    Parameters
    ----------
    lr_schedule
        ``"constant"``: ``learning_rate`` throughout; ``"cosine"``: epoch e (from 0) of E runs at
        ``learning_rate * (1 + cos(pi * e / E)) / 2``.
    """

    epochs: int = 20
    batch_size: int = 32
    class_weight: Literal["balanced"] | None = "balanced"
    early_stopping_patience: int | None = 5
    lr_schedule: Literal["constant", "cosine"] = "cosine"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"Expected lr_schedule 'constant' or 'cosine', got {self.lr_schedule!r}.")


#: Default recipe of the ``torch`` classifier type.
TORCH_RECIPE = TorchRecipe()
