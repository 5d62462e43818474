"""Pinned models: `pin` trains what a training suite asks for, the files are bit-for-bit repeatable on
one machine, and the committed pins record that training learned."""

import json

import numpy as np
import pytest

from benchmark.commands.cli import main
from benchmark.manifest import sha256_file
from benchmark.pipeline import pinning
from benchmark.pipeline.config import PROJECT_DIR

PINNED = PROJECT_DIR / "data_manifests" / "pinned" / "pneumonia-mini"


def classifier_weights(path):
    from classifiers.runtime import keras

    return keras.models.load_model(path, compile=False, safe_mode=True).get_weights()


@pytest.mark.slow
def test_training_twice_on_one_machine_gives_identical_weights(tmp_path):
    outs = []
    for name in ("first", "second"):  # separate caches: both really train
        out = tmp_path / name / "pinned"
        args = ["pin", "--suite", "pneumonia-mini-train", "--smoke", "--out", str(out)]
        assert main([*args, "--runs-dir", str(tmp_path / name / "runs"), "--quiet"]) == 0
        outs.append(out)
    first, second = (json.loads((out / pinning.PINS_FILE).read_text()) for out in outs)
    assert sorted(first["files"]) == sorted(second["files"]) == ["classifier.keras", "esrgan-tiny-x4.pth"]
    for one, other in zip(
        classifier_weights(outs[0] / "classifier.keras"),
        classifier_weights(outs[1] / "classifier.keras"),
        strict=True,
    ):
        np.testing.assert_array_equal(one, other)
    assert sha256_file(outs[0] / "esrgan-tiny-x4.pth") == sha256_file(outs[1] / "esrgan-tiny-x4.pth")
    assert first["learning"] == second["learning"]
    listed = first["training_images"]
    assert listed == second["training_images"] and len(listed["ids"]) == listed["count"] == 16
    assert (
        listed["manifest"] == "data_manifests/pneumonia-mini.csv"
        and listed["data_root"] == "data/pneumonia-mini"
    )


def test_committed_pins_learned_and_match_their_files():
    pins = json.loads((PINNED / pinning.PINS_FILE).read_text())
    learning = pins["learning"]
    assert learning["classifier"]["validation_auroc"] >= pinning.MIN_VALIDATION_AUROC
    for name, figures in learning.items():
        if "psnr_db" in figures:
            assert figures["psnr_db"] >= figures["bicubic_psnr_db"] - pinning.MAX_PSNR_BELOW_BICUBIC_DB, name
    for name, record in pins["files"].items():
        assert sha256_file(PINNED / name) == record["sha256"]
    assert pins["environment"]["git_commit"] and len(pins["training_images"]["sha256"]) == 120
    assert (
        len(pins["training_images"]["ids"]) == 120
    )  # read by the leakage check (benchmark.pipeline.training_record)


def test_learning_floors_refuse_a_model_that_did_not_learn():
    learning = {
        "classifier": {"validation_auroc": 0.6},
        "srgan-tiny-x4": {"psnr_db": 15.0, "bicubic_psnr_db": 30.0},
    }
    with pytest.raises(pinning.UserError, match="validation AUROC 0.6.*srgan-tiny-x4 PSNR 15.00 dB"):
        pinning._require_learning(learning)
