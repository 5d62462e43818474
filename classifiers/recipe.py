"""Training recipe of the reference CNN (plain data, no TensorFlow import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

OPTIMIZERS = ("rmsprop", "adam")


@dataclass(frozen=True)
class TrainingRecipe:
    """How to train the reference CNN.

    Parameters
    ----------
    epochs
        Passes over the training set (>= 1).
    batch_size
        Images per gradient step (>= 1).
    learning_rate
        Optimiser step size (> 0).
    optimizer
        ``"rmsprop"`` (the tutorial recipe the reference CNN comes from) or ``"adam"``.
    validation_fraction
        Share of the images held out, stratified by label, to report ``val_*`` metrics when the
        caller gives no validation set; in [0, 1). 0 trains on everything.
    class_weight
        ``"balanced"`` weighs each class by ``n / (2 * n_class)`` (scikit-learn's rule) so the
        majority class (pneumonia, in the Kaggle set) does not dominate the loss; ``None``: equal.
    augment
        Random zoom (+-10 %), shift (+-10 %) and rotation (+-5 degrees) of training images.
        No flips: a mirrored chest X-ray puts the heart on the wrong side, an image the classifier
        never meets at test time.
    early_stopping_patience
        Stop after this many epochs without a lower validation loss and keep the best weights;
        ``None`` trains all epochs. Needs a validation set.
    """

    epochs: int = 15
    batch_size: int = 32
    learning_rate: float = 1e-3
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    validation_fraction: float = 0.1
    class_weight: Literal["balanced"] | None = "balanced"
    augment: bool = True
    early_stopping_patience: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"Expected epochs to be an integer >= 1, got {self.epochs!r}.")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"Expected batch_size to be an integer >= 1, got {self.batch_size!r}.")
        if not self.learning_rate > 0:
            raise ValueError(f"Expected learning_rate > 0, got {self.learning_rate!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Expected optimizer to be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"Expected validation_fraction in [0, 1), got {self.validation_fraction!r}.")
        if self.class_weight not in ("balanced", None):
            raise ValueError(f"Expected class_weight 'balanced' or None, got {self.class_weight!r}.")
        patience = self.early_stopping_patience
        if patience is not None and not (isinstance(patience, int) and patience >= 1):
            raise ValueError(
                f"Expected early_stopping_patience to be None or an integer >= 1, got {patience!r}."
            )


#: Recipe of the reference study. The study's own training code was not found; the known values are
#: those of the TensorFlow "horse-or-human" tutorial its CNN is adapted from (RMSprop, learning rate
#: 1e-3, 15 epochs, binary cross-entropy, pixels rescaled to [0, 1]). Our choices: batch size 32
#: (the Keras directory-iterator default the tutorial relies on), 10 % stratified validation,
#: balanced class weights, augmentation on, no early stopping.
REFERENCE_RECIPE = TrainingRecipe()
