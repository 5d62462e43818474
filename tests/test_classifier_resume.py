"""A killed classifier training resumes at the next epoch and ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers import TrainingRecipe, train_classifier
from classifiers.checkpoints import latest_checkpoint, resume_folder
from classifiers.runtime import keras
from classifiers.training import history_path

ROOT = Path(__file__).resolve().parents[1]
SMALL = 96
# Augmentation, class weights, a validation split and early stopping: every piece of resumable state.
RECIPE = TrainingRecipe(
    epochs=3, batch_size=4, validation_fraction=0.25, class_weight="balanced", early_stopping_patience=3
)
TIMING = ["seconds", "images_per_second"]
KILLED = 75  # exit status of the training killed after its first epoch

# Trains like the test, but the process dies (os._exit: no cleanup, as under kill -9) right after the
# first epoch's checkpoint is on disk.
_KILLED_AFTER_EPOCH_1 = """
import os, sys
import numpy as np
from classifiers import TrainingRecipe, checkpoints, train_classifier

write = checkpoints.write_checkpoint
def write_then_die(folder, epoch, meta, arrays):
    path = write(folder, epoch, meta, arrays)
    os._exit({killed})
checkpoints.write_checkpoint = write_then_die
data = np.load(sys.argv[1])
train_classifier(data["images"], data["labels"], recipe={recipe!r}, seed=0, out_path=sys.argv[2],
                 input_size={size}, progress=False)
"""


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    labels = np.array([0, 1] * 8)
    images = (0.4 + 0.1 * rng.standard_normal((16, 64, 64)) + 0.3 * labels[:, None, None]).clip(0, 1)
    return images.astype(np.float32), labels


def _train(out: Path, seed: int = 0) -> Path:
    images, labels = _data()
    return train_classifier(
        images, labels, recipe=RECIPE, seed=seed, out_path=out, input_size=SMALL, progress=False
    )


def test_a_training_killed_after_epoch_1_resumes_to_identical_weights_and_history(tmp_path):
    reference = _train(tmp_path / "whole" / "cnn.keras")

    data = tmp_path / "data.npz"
    np.savez(data, images=_data()[0], labels=_data()[1])
    interrupted = tmp_path / "killed" / "cnn.keras"
    script = _KILLED_AFTER_EPOCH_1.format(killed=KILLED, recipe=RECIPE, size=SMALL)
    script = "from classifiers.recipe import TrainingRecipe\n" + textwrap.dedent(script)
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run(
        [sys.executable, "-c", script, str(data), str(interrupted)], env=environment, cwd=ROOT, timeout=300
    )
    assert killed.returncode == KILLED
    assert not interrupted.exists()
    assert latest_checkpoint(resume_folder(interrupted)).name == "epoch-0001.npz"

    with pytest.raises(ValueError, match="Delete .*cnn.resume to train from the start"):
        _train(interrupted, seed=1)  # another training's checkpoint is refused, not resumed
    assert latest_checkpoint(resume_folder(interrupted)).name == "epoch-0001.npz"

    _train(interrupted)
    assert not resume_folder(interrupted).exists()
    expected, resumed = (keras.models.load_model(p).get_weights() for p in (reference, interrupted))
    assert len(expected) == len(resumed) == 16
    for a, b in zip(expected, resumed, strict=True):
        assert a.tobytes() == b.tobytes()  # bitwise, not within a tolerance
    history, resumed_history = (pd.read_csv(history_path(p)) for p in (reference, interrupted))
    assert list(history["epoch"]) == [1, 2, 3]
    pd.testing.assert_frame_equal(history.drop(columns=TIMING), resumed_history.drop(columns=TIMING))
    assert (history[TIMING] > 0).all().all()


def test_training_prints_time_and_images_per_second_per_epoch(tmp_path, capsys):
    images, labels = _data()
    recipe = TrainingRecipe(epochs=1, batch_size=8, augment=False, early_stopping_patience=None)
    train_classifier(images, labels, recipe=recipe, seed=0, out_path=tmp_path / "m.keras", input_size=SMALL)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("epoch 1/1  ") and " s  " in line and " images/s  " in line and " loss " in line
    assert "val_loss" in line and line.endswith("(best val_loss)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.history.csv", "m.keras"]


def test_a_killed_cached_training_resumes_when_the_suite_runs_again(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from benchmark.cache import Cache
    from benchmark.classifier_setup import classifier_file
    from benchmark.config import ClassifierConfig
    from classifiers import checkpoints

    images, labels = _data()
    rows = []
    for index, (image, label) in enumerate(zip(images[:12], labels[:12], strict=True)):
        path = tmp_path / f"{index}.png"
        Image.fromarray((image * 255).astype(np.uint8)).save(path)
        rows.append({"path": str(path), "sha256": f"{index:064x}", "label": label, "patient_id": f"p{index}"})
    config = ClassifierConfig(
        train={"epochs": 2, "batch_size": 4, "validation_fraction": 0.25, "augment": False},
        input_size=SMALL,
    )
    cache = Cache(tmp_path / "cache")

    write = checkpoints.write_checkpoint

    def write_then_die(folder, epoch, meta, arrays):
        write(folder, epoch, meta, arrays)
        raise KeyboardInterrupt  # the run is killed once epoch 1 is checkpointed

    monkeypatch.setattr(checkpoints, "write_checkpoint", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        classifier_file(config, pd.DataFrame(rows), seed=0, cache=cache, progress=True)
    assert not list((tmp_path / "cache" / "classifier").rglob("*.keras"))
    (folder,) = (tmp_path / "cache" / "classifier").rglob("*.resume")
    assert latest_checkpoint(folder).name == "epoch-0001.npz"

    monkeypatch.setattr(checkpoints, "write_checkpoint", write)
    path = classifier_file(config, pd.DataFrame(rows), seed=0, cache=cache, progress=True)
    output = capsys.readouterr().out
    assert f"Resuming after epoch 1 from {folder}" in output and "epoch 2/2" in output
    assert "epoch 1/2" not in output.split("Resuming")[1]
    assert path.is_file() and not folder.exists()
    assert list(pd.read_csv(history_path(path))["epoch"]) == [1, 2]
