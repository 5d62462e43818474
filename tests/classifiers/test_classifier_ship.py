"""Shipping a trained classifier: the independent test-set evaluation and the .keras + .json artefact."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from benchmark.commands.cli import main
from benchmark.manifest import build_manifest, write_manifest
from benchmark.pipeline.classifier_eval import binary_scores, evaluate_directory, predict_directory
from benchmark.pipeline.classifier_ship import epoch_seconds_from_log, list_checksum, timing
from classifiers import build_reference_cnn
from classifiers.runtime import keras

SMALL = 96


def _write_split(root: Path, split: str, per_class: int, rng: np.random.Generator, size=(64, 56)) -> None:
    """Gray radiograph-like PNGs saved as RGB (R = G = B, like the shared copies), Kermany names."""
    for label, brightness in (("NORMAL", 0.35), ("PNEUMONIA", 0.6)):
        folder = root / split / label
        folder.mkdir(parents=True)
        for index in range(per_class):
            gray = np.clip(brightness + 0.15 * rng.standard_normal(size), 0, 1)
            name = (
                f"IM-{split}{index:03d}-0001.png"
                if label == "NORMAL"
                else f"person{split}{index}_virus_1.png"
            )
            Image.fromarray((gray * 255).astype(np.uint8)).convert("RGB").save(folder / name)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A tiny suite on a tiny Kaggle-layout folder, trained by `train-classifier` (2 epochs at 96 px)."""
    folder = tmp_path_factory.mktemp("ship")
    root = folder / "data"
    rng = np.random.default_rng(0)
    _write_split(root, "train", 8, rng)
    _write_split(root, "test", 3, rng)
    write_manifest(build_manifest(root, progress=False), folder / "tiny.csv")
    suite = folder / "tiny.yaml"
    suite.write_text(
        "name: tiny\nseed: 3\n"
        f"data: {{manifest: tiny.csv, data_root: {root}, hr_size: 48}}\n"
        "cells: [{scenario: bicubic, scale: 4}]\nsr_models: [{name: bicubic, model: bicubic}]\n"
        "classifier:\n  input_size: 96\n"
        "  train: {epochs: 2, batch_size: 4, validation_fraction: 0.25, augment: false,"
        " early_stopping_patience: null}\n"
    )
    out, runs = folder / "out", folder / "runs"
    argv = ["train-classifier", "--suite", str(suite), "--out", str(out), "--runs-dir", str(runs)]
    with pytest.MonkeyPatch.context() as patch:  # the command a run records is its sys.argv
        patch.setattr(sys, "argv", ["/somewhere/benchmark/__main__.py", *argv])
        assert main(argv) == 0
    return {"root": root, "suite": suite, "out": out, "runs": runs, "folder": folder}


def _ship(trained, destination: Path, *extra: str) -> int:
    argv = [
        "ship-classifier",
        "--suite",
        str(trained["suite"]),
        "--from",
        str(trained["out"]),
        "--to",
        str(destination),
        "--test-dir",
        str(trained["root"] / "test"),
        "--runs-dir",
        str(trained["runs"]),
        "--quiet",
        *extra,
    ]
    with pytest.MonkeyPatch.context() as patch:  # the ship command recorded is the process's sys.argv
        patch.setattr(sys, "argv", ["/somewhere/benchmark/__main__.py", *argv])
        return main(argv)


def test_train_classifier_records_the_training_list_and_epoch_timings(trained):
    listed = pd.read_csv(trained["out"] / "train_images.csv")
    assert len(listed) == 16 and set(listed["role"]) == {"fit", "validation"}
    fit, held = (set(listed.loc[listed["role"] == role, "patient_id"]) for role in ("fit", "validation"))
    assert not fit & held
    history = pd.read_csv(trained["out"] / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert (history["seconds"] > 0).all() and (history["images_per_second"] > 0).all()


def test_the_independent_evaluation_reads_images_as_keras_load_img_does(tmp_path):
    rng = np.random.default_rng(1)
    for label in ("NORMAL", "PNEUMONIA"):
        (tmp_path / label).mkdir()
        for index in range(3):
            pixels = rng.integers(0, 256, (70 + 10 * index, 90, 3), dtype=np.uint8)  # real colour, odd sizes
            Image.fromarray(pixels).save(tmp_path / label / f"{index}.png")
    Image.fromarray(rng.integers(0, 256, (50, 60), dtype=np.uint8)).save(tmp_path / "NORMAL" / "gray.jpeg")
    keras.utils.set_random_seed(15)
    model_file = tmp_path / "m.keras"
    build_reference_cnn(input_size=SMALL).save(model_file)

    predicted = predict_directory(model_file, tmp_path, batch_size=3)
    names = [f"{p.parent.name}/{p.name}" for p in predicted["files"]]
    assert names == ["NORMAL/0.png", "NORMAL/1.png", "NORMAL/2.png", "NORMAL/gray.jpeg"] + [
        f"PNEUMONIA/{i}.png" for i in range(3)
    ]
    np.testing.assert_array_equal(predicted["labels"], [0, 0, 0, 0, 1, 1, 1])
    loaded = [
        keras.utils.img_to_array(keras.utils.load_img(p, target_size=(SMALL, SMALL), interpolation="nearest"))
        for p in predicted["files"]
    ]
    expected = keras.models.load_model(model_file).predict(np.stack(loaded) / 255.0, verbose=0)[:, 0]
    np.testing.assert_allclose(predicted["probabilities"], expected, rtol=0, atol=1e-6)
    assert predicted["probabilities"].std() > 0


def test_binary_scores_match_scikit_learn():
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    probabilities = np.array([0.1, 0.6, 0.3, 0.8, 0.4, 0.9, 0.7], dtype=np.float32)
    scores = binary_scores(labels, probabilities)
    assert scores["accuracy"] == pytest.approx(accuracy_score(labels, probabilities >= 0.5))
    assert scores["auroc"] == pytest.approx(roc_auc_score(labels, probabilities))
    assert scores["loss"] == pytest.approx(log_loss(labels, probabilities.astype(np.float64)))
    assert (scores["sensitivity"], scores["specificity"]) == (pytest.approx(3 / 4), pytest.approx(2 / 3))
    assert scores["confusion"] == {"tn": 2, "fp": 1, "fn": 1, "tp": 3}


def test_ship_writes_a_safe_mode_model_and_a_sidecar_with_independent_test_figures(trained):
    destination = trained["folder"] / "weights" / "tiny-cnn.keras"
    assert _ship(trained, destination) == 0
    sidecar = json.loads(destination.with_suffix(".json").read_text())

    model = keras.models.load_model(destination, safe_mode=True)
    assert model.count_params() == sidecar["parameters"] and sidecar["input_shape"] == [SMALL, SMALL, 3]
    with zipfile.ZipFile(destination) as archive:  # weights only: no optimizer state
        assert "optimizer" not in archive.read("config.json").decode()
    assert destination.stat().st_size < (trained["out"] / "model.keras").stat().st_size

    assert sidecar["test_metrics"] == evaluate_directory(destination, trained["root"] / "test")
    assert sidecar["test_metrics"]["n_images"] == 6 and sidecar["test_metrics"]["n_pneumonia"] == 3
    history = pd.read_csv(trained["out"] / "history.csv")
    assert [row["epoch"] for row in sidecar["history"]] == [1, 2]
    assert [row["val_loss"] for row in sidecar["history"]] == pytest.approx(list(history["val_loss"]))
    assert sidecar["timing"]["wall_seconds"] == pytest.approx(history["seconds"].sum())
    assert sidecar["seed"] == 3 and sidecar["recipe"]["epochs"] == 2 and sidecar["input_size"] == SMALL
    assert sidecar["training_command"] == (
        f"python -m benchmark train-classifier --suite {trained['suite']} --out {trained['out']} "
        f"--runs-dir {trained['runs']}"
    )
    assert sidecar["ship_command"].startswith("python -m benchmark ship-classifier --suite ")
    assert len(sidecar["training_git_commit"] or "0" * 40) == 40

    listed = pd.read_csv(trained["out"] / "train_images.csv")
    train = sidecar["data"]["train"]
    assert (train["n_images"], train["n_fit"], train["n_validation"]) == (
        16,
        int((listed["role"] == "fit").sum()),
        int((listed["role"] == "validation").sum()),
    )
    assert train["list_sha256"] == list_checksum(listed)
    assert sidecar["data"]["test"]["n_images"] == 6
    # The independent evaluation's file list is the suite's test list (no image was skipped here).
    assert sidecar["test_metrics"]["list_sha256"] == sidecar["data"]["test"]["list_sha256"]


def test_ship_names_the_missing_training_outputs(trained, tmp_path, capsys):
    (tmp_path / "model.keras").write_bytes(b"")
    code = main(
        [
            "ship-classifier",
            "--suite",
            str(trained["suite"]),
            "--from",
            str(tmp_path),
            "--to",
            str(tmp_path / "x.keras"),
            "--test-dir",
            str(trained["root"] / "test"),
        ]
    )
    assert code == 2
    assert "missing history.csv, evaluation.json" in capsys.readouterr().err


def test_epoch_times_come_from_a_keras_log_when_the_history_has_none(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(
        "Epoch 1/2\n147/147 - 45s - 306ms/step - accuracy: 0.7 - loss: 0.5\n"
        "Epoch 2/2\n147/147 - 41s - 280ms/step - accuracy: 0.8 - loss: 0.4\n"
    )
    assert epoch_seconds_from_log(log) == [45.0, 41.0]
    history = pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.4]})
    figures = timing(history, n_fit=4100, log=log)
    assert figures["wall_seconds"] == 86.0
    assert figures["images_per_second"] == pytest.approx([4100 / 45, 4100 / 41])
    with pytest.raises(Exception, match="Expected 3 Keras epoch lines"):
        timing(pd.DataFrame({"epoch": [1, 2, 3]}), n_fit=1, log=log)


def _copy_trained(trained, target: Path) -> dict:
    import shutil

    shutil.copytree(trained["out"], target)
    return {**trained, "out": target}


def _pair(destination: Path) -> tuple[bytes, bytes]:
    return destination.read_bytes(), destination.with_suffix(".json").read_bytes()


@pytest.fixture()
def shipped(trained, tmp_path) -> Path:
    destination = tmp_path / "weights" / "cnn.keras"
    assert _ship(trained, destination) == 0
    return destination


def test_a_model_swapped_into_the_training_folder_is_refused_and_nothing_is_written(
    trained, shipped, tmp_path, capsys
):
    """Before: shipped with exit 0 and a sidecar whose history, input size and scores described the
    other model."""
    swapped = _copy_trained(trained, tmp_path / "swapped")
    other = build_reference_cnn(SMALL + 8)
    other.save(swapped["out"] / "model.keras")
    before = _pair(shipped)
    assert _ship(swapped, shipped) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "model.keras is not the model" in err and "model_sha256" in err
    assert _pair(shipped) == before


@pytest.mark.parametrize(("key", "value"), [("suite", "another"), ("input_size", 300)])
def test_an_evaluation_json_of_another_suite_or_size_is_refused(trained, tmp_path, capsys, key, value):
    edited = _copy_trained(trained, tmp_path / "edited")
    record = json.loads((edited["out"] / "evaluation.json").read_text())
    record[key] = value
    (edited["out"] / "evaluation.json").write_text(json.dumps(record))
    assert _ship(edited, tmp_path / "x.keras") == 2
    assert f"its {key} is {value!r}" in capsys.readouterr().err
    assert not (tmp_path / "x.keras").exists() and not (tmp_path / "x.json").exists()


def test_a_test_dir_without_pneumonia_images_is_refused_before_the_old_pair_is_touched(
    trained, shipped, tmp_path, capsys
):
    """Before: the clear error came after the shipped .keras had been overwritten."""
    import shutil

    partial = tmp_path / "test"
    shutil.copytree(trained["root"] / "test" / "NORMAL", partial / "NORMAL")
    before = _pair(shipped)
    argv = ["ship-classifier", "--suite", str(trained["suite"]), "--from", str(trained["out"])]
    argv += ["--to", str(shipped), "--test-dir", str(partial), "--runs-dir", str(trained["runs"]), "--quiet"]
    assert main(argv) == 2
    assert "PNEUMONIA, found none" in capsys.readouterr().err
    assert _pair(shipped) == before


def test_a_ship_failing_while_writing_leaves_the_old_pair_byte_identical(trained, shipped, monkeypatch):
    from benchmark.pipeline import classifier_ship

    def fail(*args, **kwargs):
        raise OSError("disk went away during the evaluation")

    before = _pair(shipped)
    monkeypatch.setattr(classifier_ship, "evaluate_directory", fail)
    with pytest.raises(OSError, match="disk went away"):
        _ship(trained, shipped)
    assert _pair(shipped) == before
    assert sorted(p.name for p in shipped.parent.iterdir()) == ["cnn.json", "cnn.keras"]  # no temporaries
