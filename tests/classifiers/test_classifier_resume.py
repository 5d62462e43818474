"""A killed classifier training resumes at the next epoch and ends bit-identical to an uninterrupted one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classifiers import TrainingRecipe, train_classifier
from classifiers.checkpoints import latest_checkpoint, resume_folder
from classifiers.runtime import keras
from classifiers.training import history_path
from tests.support.paths import ROOT

SMALL = 96
# Augmentation, class weights, a validation split and early stopping: every piece of resumable state.
RECIPE = TrainingRecipe(
    epochs=3, batch_size=4, validation_fraction=0.25, class_weight="balanced", early_stopping_patience=3
)
TIMING = ["seconds", "images_per_second"]
KILLED = 75  # exit status of the training killed after its first epoch

# Trains like the test; with a kill status, the process dies (os._exit: no cleanup, as under kill -9)
# right after the first epoch's checkpoint is on disk.
_TRAIN_SCRIPT = """
import os, sys
import numpy as np
from classifiers import TrainingRecipe, checkpoints, train_classifier

data_file, out_file, kill_status = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kill_status:
    write = checkpoints.write_checkpoint
    def write_then_die(folder, epoch, meta, arrays):
        write(folder, epoch, meta, arrays)
        os._exit(kill_status)
    checkpoints.write_checkpoint = write_then_die
data = np.load(data_file)
train_classifier(data["images"], data["labels"], recipe={recipe!r}, seed=0, out_path=out_file,
                 input_size={size}, progress=False)
"""


def _train_in_subprocess(data: Path, out: Path, *, backend: str, kill: int = 0) -> int:
    """Exit status of ``_TRAIN_SCRIPT`` run on Keras backend ``backend``."""
    script = "from classifiers.recipe import TrainingRecipe\n" + _TRAIN_SCRIPT.format(
        recipe=RECIPE, size=SMALL
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": backend}
    command = [sys.executable, "-c", script, str(data), str(out), str(kill)]
    return subprocess.run(command, env=environment, cwd=ROOT, timeout=300).returncode


def _assert_same_training(reference: Path, resumed: Path) -> None:
    """Bitwise-equal weights and equal history (timings aside) of two trainings' outputs."""
    expected, got = (keras.models.load_model(p).get_weights() for p in (reference, resumed))
    assert len(expected) == len(got) == 16
    for a, b in zip(expected, got, strict=True):
        assert a.tobytes() == b.tobytes()  # bitwise, not within a tolerance
    history, resumed_history = (pd.read_csv(history_path(p)) for p in (reference, resumed))
    assert list(history["epoch"]) == [1, 2, 3]
    pd.testing.assert_frame_equal(history.drop(columns=TIMING), resumed_history.drop(columns=TIMING))
    assert (history[TIMING] > 0).all().all()


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


def _write_data(folder: Path) -> Path:
    images, labels = _data()
    np.savez(folder / "data.npz", images=images, labels=labels)
    return folder / "data.npz"


def test_a_training_killed_after_epoch_1_resumes_to_identical_weights_and_history(tmp_path):
    reference = _train(tmp_path / "whole" / "cnn.keras")
    interrupted = tmp_path / "killed" / "cnn.keras"
    status = _train_in_subprocess(_write_data(tmp_path), interrupted, backend="tensorflow", kill=KILLED)
    assert status == KILLED
    assert not interrupted.exists()
    assert latest_checkpoint(resume_folder(interrupted)).name == "epoch-0001.npz"

    with pytest.raises(ValueError, match="Delete .*cnn.resume to train from the start"):
        _train(interrupted, seed=1)  # another training's checkpoint is refused, not resumed
    assert latest_checkpoint(resume_folder(interrupted)).name == "epoch-0001.npz"

    _train(interrupted)
    assert not resume_folder(interrupted).exists()
    _assert_same_training(reference, interrupted)


def test_a_killed_training_on_the_pytorch_backend_resumes_bit_identically(tmp_path):
    data = _write_data(tmp_path)
    reference, interrupted = tmp_path / "whole" / "cnn.keras", tmp_path / "killed" / "cnn.keras"
    assert _train_in_subprocess(data, reference, backend="torch") == 0
    assert _train_in_subprocess(data, interrupted, backend="torch", kill=KILLED) == KILLED
    assert latest_checkpoint(resume_folder(interrupted)).name == "epoch-0001.npz"
    assert _train_in_subprocess(data, interrupted, backend="torch") == 0
    _assert_same_training(reference, interrupted)


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

    from benchmark.pipeline.cache import Cache
    from benchmark.pipeline.classifier_setup import classifier_file
    from benchmark.pipeline.config import ClassifierConfig
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


def test_an_unreadable_checkpoint_names_the_folder_to_delete(tmp_path):
    folder = resume_folder(tmp_path / "cnn.keras")
    folder.mkdir()
    (folder / "epoch-0002.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"epoch-0002.npz .*Delete .*cnn.resume to train from the start"):
        _train(tmp_path / "cnn.keras")
