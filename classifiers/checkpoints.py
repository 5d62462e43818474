"""Per-epoch training checkpoints, so that a killed training resumes where it stopped.

A resume folder holds one file, ``epoch-NNNN.npz``, written atomically after every epoch: the model's
weights, the optimizer's variables (Adam's moments and step count), the data pipeline's state (the
shuffling generator and the current order; augmentation is seeded by epoch and batch), the best
epoch's weights, and in JSON the per-epoch history, the early-stopping state and a fingerprint of the
training's inputs. Restoring all of it makes a resumed training finish bit-identical to an
uninterrupted one on the same machine and backend. Arrays only: no pickle is ever loaded.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.runtime import backend_name, keras
from cxr_kernel.atomic import atomic_path
from cxr_kernel.errors import UserValueError

#: Version of the checkpoint layout; a folder of another version is refused, not misread.
CHECKPOINT_VERSION = 1
_PREFIX = "epoch-"


def resume_folder(out_path: Path) -> Path:
    """The default resume folder of a training saving to ``out_path``: ``<stem>.resume`` beside it."""
    out_path = Path(out_path)
    return out_path.with_name(f"{out_path.stem}.resume")


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint of the latest finished epoch in ``folder``, or None."""
    files = sorted(Path(folder).glob(f"{_PREFIX}*.npz")) if Path(folder).is_dir() else []
    return files[-1] if files else None


def write_checkpoint(folder: Path, epoch: int, meta: dict[str, Any], arrays: dict[str, list]) -> Path:
    """Write epoch ``epoch``'s checkpoint atomically, then delete the older ones.

    ``arrays`` maps a group name (``weights``, ``optimizer``...) to a list of arrays; ``meta`` is
    JSON-serialisable.
    """
    folder = Path(folder)
    path = folder / f"{_PREFIX}{epoch:04d}.npz"
    payload = {"meta": np.array(json.dumps({"version": CHECKPOINT_VERSION, **meta}))}
    for group, values in arrays.items():
        payload[f"{group}/count"] = np.array(len(values))
        for index, value in enumerate(values):
            payload[f"{group}/{index}"] = np.asarray(value)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **payload)
    for older in folder.glob(f"{_PREFIX}*.npz"):
        if older != path:
            older.unlink(missing_ok=True)
    return path


def read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, list[np.ndarray]]]:
    """(meta, arrays by group) of a checkpoint written by ``write_checkpoint``."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored["meta"]))
            groups = {name.split("/")[0] for name in stored.files if name.endswith("/count")}
            arrays = {
                group: [stored[f"{group}/{i}"] for i in range(int(stored[f"{group}/count"]))]
                for group in groups
            }
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise UserValueError(
            f"Could not read the training checkpoint {path} ({type(error).__name__}: {error}). "
            f"Delete {path.parent} to train from the start."
        ) from error
    if meta.get("version") != CHECKPOINT_VERSION:
        raise UserValueError(
            f"Expected a checkpoint of layout version {CHECKPOINT_VERSION} in {path}, got "
            f"{meta.get('version')!r}. Delete {path.parent} to train from the start."
        )
    return meta, arrays


def optimizer_variables(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]


def restore_optimizer(model: keras.Model, values: list[np.ndarray], where: Path) -> None:
    """Build the model's optimizer and give its variables (step count, moments) the stored values."""
    model.optimizer.build(model.trainable_variables)
    variables = model.optimizer.variables
    if len(variables) != len(values):
        raise UserValueError(
            f"Expected {len(variables)} optimizer variables in {where}, got {len(values)}: the checkpoint "
            f"is of another model or optimizer. Delete {where.parent} to train from the start."
        )
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


class EpochCheckpoint(keras.callbacks.Callback):
    """Keeps the history, the best epoch and early stopping, times epochs, and checkpoints each epoch.

    Replaces Keras' ``ModelCheckpoint(save_best_only=True)`` and ``EarlyStopping`` with the same rules
    (an epoch is better when ``monitor`` is lower; stop after ``patience`` epochs without a better
    one), because their state must survive a restart.

    Parameters
    ----------
    folder
        Resume folder (see ``write_checkpoint``).
    batches
        The training data; its ``get_state``/``set_state`` carry the shuffling state, and its
        ``epoch`` (which seeds augmentation) is set at each epoch's start.
    monitor, patience
        Quantity that picks the best epoch (``val_loss`` or ``loss``); early-stopping patience or None.
    epochs, n_train
        Planned epochs (for the progress line) and training images per epoch (for images/s).
    identity
        Fingerprint of the training's inputs, stored so a folder of another training is refused.
    resumed
        (meta, arrays) of the checkpoint this training resumes from, or None.
    progress
        Print one line per epoch: time, images/s and metrics.
    """

    def __init__(
        self,
        folder: Path,
        *,
        batches: Any,
        monitor: str,
        patience: int | None,
        epochs: int,
        n_train: int,
        identity: str,
        resumed: tuple[dict, dict] | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__()
        self.folder, self.batches, self.monitor, self.patience = Path(folder), batches, monitor, patience
        self.epochs, self.n_train, self.identity, self.progress = epochs, n_train, identity, progress
        meta, arrays = resumed if resumed is not None else ({}, {})
        self.history: list[dict[str, float]] = meta.get("history", [])
        best = meta.get("best")
        self.best = math.inf if best is None else float(best)
        self.best_epoch: int | None = meta.get("best_epoch")
        self.wait: int = meta.get("wait", 0)
        self.stopped: bool = meta.get("stopped", False)
        self.best_weights: list[np.ndarray] | None = arrays.get("best") or None
        # Restored at the first epoch's start: Model.fit itself touches the data set before that.
        self._pending = None if resumed is None else _pipeline_state(meta, arrays)
        self._started = self._training_done = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._pending is not None:
            self.batches.set_state(self._pending)
            self._pending = None
        self.batches.epoch = epoch
        self._started, self._training_done = time.perf_counter(), 0.0

    def on_test_begin(self, logs: dict | None = None) -> None:
        if not self._training_done:  # validation starts: the training pass of this epoch is over
            self._training_done = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        now = time.perf_counter()
        logs = {name: float(value) for name, value in (logs or {}).items()}
        training_seconds = (self._training_done or now) - self._started
        row = {
            "epoch": epoch + 1,
            **logs,
            "seconds": now - self._started,
            "images_per_second": self.n_train / training_seconds if training_seconds > 0 else math.nan,
        }
        self.history.append(row)
        current = logs.get(self.monitor)
        improved = current is not None and current < self.best  # NaN never improves
        if improved:
            self.best, self.best_epoch, self.wait = current, epoch + 1, 0
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.patience is not None and self.wait >= self.patience and epoch > 0:
                self.stopped = True
                self.model.stop_training = True
        self._save(epoch + 1)
        if self.progress:
            self._print(row, improved)

    def _save(self, epoch: int) -> None:
        state = self.batches.get_state()
        meta = {
            "fingerprint": self.identity,
            "backend": backend_name(),
            "epoch": epoch,
            "best": None if math.isinf(self.best) else self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped": self.stopped,
            "history": self.history,
            "rng": state["rng"],
        }
        arrays = {
            "weights": self.model.get_weights(),
            "optimizer": optimizer_variables(self.model),
            "order": [state["order"]],
            "best": self.best_weights or [],
        }
        write_checkpoint(self.folder, epoch, meta, arrays)

    def _print(self, row: dict[str, float], improved: bool) -> None:
        metrics = "  ".join(
            f"{name} {value:.4f}"
            for name, value in row.items()
            if name not in ("epoch", "seconds", "images_per_second")
        )
        mark = f"  (best {self.monitor})" if improved else ""
        print(
            f"epoch {row['epoch']}/{self.epochs}  {row['seconds']:.1f} s  "
            f"{row['images_per_second']:.1f} images/s  {metrics}{mark}",
            flush=True,
        )


def _pipeline_state(meta: dict, arrays: dict) -> dict[str, Any]:
    return {"rng": meta["rng"], "order": arrays["order"][0]}
