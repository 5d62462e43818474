"""The classifier's training data as the header and methods state it: read from the run (trained there),
from a shipped file's sidecar or the pins only when their sha256 matches, and the leakage check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from reports import render_run
from reports.header import class_counts, header_facts
from reports.methods import methods_paragraph
from reports.provenance import classifier_provenance, leakage_text
from reports.rundir import load_run
from tests.support.report_run import as_summary, make_run

SHA = "f" * 64


def _training_images(root: Path, side: int, n: int = 4) -> pd.DataFrame:
    """`n` training images of `side` px under root/train, listed as a manifest would list them."""
    rows = []
    for i in range(n):
        path = Path("train") / f"img{i}.png"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((side, side), 100, np.uint8)).save(root / path)
        rows.append(
            {"path": str(path), "label": "NORMAL", "split": "train", "sha256": "", "patient_id": f"p{i // 2}"}
        )
    return pd.DataFrame(rows)


def _given_file(tmp_path: Path, sidecar_sha: str) -> Path:
    """A run whose classifier is a given file with a ship-classifier sidecar beside it."""
    run = make_run(tmp_path / "run", lean=True)
    data = tmp_path / "data"
    manifest = tmp_path / "train.csv"
    _training_images(data, 224).to_csv(manifest, index=False)
    weights = tmp_path / "weights" / "cnn.keras"
    weights.parent.mkdir()
    sidecar = {
        "model_sha256": sidecar_sha,
        "seed": 3,
        "input_size": 300,
        "data": {
            "manifest": str(manifest),
            "data_root": str(data),
            "train": {
                "split": "train",
                "n_images": 4,
                "n_fit": 3,
                "n_validation": 1,
                "validation": "patients held out",
            },
        },
        "history": [
            {"epoch": 1, "val_auc": 0.81, "val_loss": 0.5},
            {"epoch": 2, "val_auc": 0.93, "val_loss": 0.4},
        ],
        "best_epoch": 2,
        "test_metrics": {"accuracy": 0.9, "auroc": 0.95, "n_images": 624, "directory": "test"},
    }
    weights.with_suffix(".json").write_text(json.dumps(sidecar))
    summary = json.loads((run / "summary.json").read_text())
    summary["classifier"] = {"source": "file", "path": str(weights), "sha256": SHA}
    summary["leakage"] = {"checked": False, "reason": "classifier weights given (training data unknown)"}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.yaml").write_text(f"seed: 0\nclassifier:\n  weights: {weights}\n")
    return run


def _methods(run_dir: Path) -> str:
    run = load_run(run_dir)
    return methods_paragraph(run.config_text, run.summary, class_counts(run), classifier_provenance(run))


def test_sidecar_of_the_loaded_file_states_the_training_data(tmp_path: Path) -> None:
    run = _given_file(tmp_path, SHA)
    text = _methods(run)
    assert "trained on 4 images (3 fit, 1 validation; patients held out)" in text
    assert "stored at 224×224 and resized by nearest neighbour to 300×300 (upsampled)" in text
    assert "validation AUROC 0.930 at the kept epoch; seed 3" in text  # epoch 2, the kept one
    assert "accuracy 0.900, AUROC 0.950 on 624 images of test" in text
    assert "No leakage" not in text and "not run (classifier weights given (training data unknown))" in text
    facts = dict(header_facts(load_run(run), classifier_provenance(load_run(run))))
    assert facts["Classifier training"].startswith("shipped file, provenance from cnn.json: 4 images")
    assert facts["Leakage check"].startswith("not run")


def test_a_sidecar_of_another_file_is_not_used(tmp_path: Path) -> None:
    run = _given_file(tmp_path, "0" * 64)
    text = _methods(run)
    assert "no record of its training data was found" in text and "4 images" not in text
    assert "trained on HR training images" not in text


def test_classifier_trained_in_the_run_is_described_from_its_lists(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")  # trained classifier with classifier/history.csv
    data = tmp_path / "data"
    images = _training_images(data, 128).rename(columns={"path": "image_id"})
    images.assign(role=["fit", "fit", "fit", "validation"]).to_csv(
        run / "classifier" / "train_images.csv", index=False
    )
    pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.6, 0.3, 0.5], "val_auc": [0.7, 0.88, 0.9]}).to_csv(
        run / "classifier" / "history.csv", index=False
    )
    summary = json.loads((run / "summary.json").read_text())
    summary["classifier"]["train_images_csv"] = "classifier/train_images.csv"
    summary["leakage"] = {
        "checked": True,
        "allowed": True,
        "patients": [{"patient_id": "p0"}],
        "near_duplicates": [],
    }
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.yaml").write_text(
        f"seed: 5\ndata: {{data_root: {data}, manifest: m.csv}}\n"
        "classifier: {train: {epochs: 3}, input_size: 96}\n"
    )
    text = _methods(run)
    assert "the reference five-layer CNN trained in this run for up to 3 epochs at 96×96 input" in text
    assert "4 images of 2 patients (3 fit, 1 validation; patients held out)" in text
    assert "stored at 128×128 and resized by nearest neighbour to 96×96 (downsampled)" in text
    assert "validation AUROC 0.880 at the kept epoch; seed 5" in text  # lowest validation loss: epoch 2
    assert "1 shared patients and 0 near-duplicate images found (allowed by the suite" in text


def test_leakage_text_reads_the_stored_check() -> None:
    assert leakage_text(as_summary({})) == "not recorded"
    assert leakage_text(
        as_summary({"leakage": {"checked": True, "patients": [], "near_duplicates": []}})
    ) == ("0 shared patients and 0 near-duplicate images found")


def test_input_of_a_given_file_is_read_from_the_loaded_classifiers_description(tmp_path: Path) -> None:
    """Without a sidecar, the methods still name the input size and resize the loaded model declared."""
    run = _given_file(tmp_path, "0" * 64)  # the sidecar does not match: nothing recorded but the file
    summary = json.loads((run / "summary.json").read_text())
    summary["classifier"]["classifier"] = {
        "type": "onnx",
        "input": {"size": [112, 112], "resize": "bilinear"},
    }
    (run / "summary.json").write_text(json.dumps(summary))
    assert (
        "cnn.keras` at 112×112 input, each image resized to the input by bilinear interpolation (antialiased)"
        in _methods(run)
    )
    del summary["classifier"]["classifier"]  # a run from before the record: the size is not stated
    (run / "summary.json").write_text(json.dumps(summary))
    assert "×112 input" not in _methods(run)


def test_a_given_file_checked_for_leakage_shows_its_list_and_the_sensitivity_section(tmp_path: Path) -> None:
    run = _given_file(tmp_path, SHA)
    summary = json.loads((run / "summary.json").read_text())
    first = next(r for r in summary["tables"]["classification"] if r["metric"] == "accuracy")
    subset = {**first, "estimate": 0.8125, "ci_low": 0.61, "ci_high": 0.93, "n": 16}
    summary["leakage"] = {
        "checked": True,
        "allowed": True,
        "patients": [{"patient_id": "p0", "n_train": 1, "n_test": 4, "test_images": "a;b;c;d"}],
        "near_duplicates": [],
        "training_images": {"source": "cnn.json", "n_images": 4, "note": "verified"},
        "sensitivity": {
            "left_out_images": 4,
            "n_images": 16,
            "n_pneumonia": 6,
            "endpoints": ["accuracy"],
            "classification": [subset],
        },
    }
    summary["declared_duplicates"] = [
        {"image_id": "test/NORMAL/b.png", "split": "test", "duplicate_of": "test/NORMAL/a.png"},
        {"image_id": "train/NORMAL/d.png", "split": "train", "duplicate_of": "train/NORMAL/c.png"},
    ]
    (run / "summary.json").write_text(json.dumps(summary))
    facts = dict(header_facts(load_run(run), classifier_provenance(load_run(run))))
    assert facts["Leakage check"].startswith("1 shared patients and 0 near-duplicate images found (allowed")
    assert "against the 4 training images of cnn.json" in facts["Leakage check"]
    assert "without their 4 test images (16 left)" in facts["Leakage check"]
    n_eval = summary["n_images"]["eval"]
    assert (
        f"1 declared byte-identical copies left out of the {n_eval + 1} test images listed, so {n_eval} were "
        "evaluated (copy = kept image: test/NORMAL/b.png = test/NORMAL/a.png)" in facts["Test set"]
    )
    assert "1 declared copies left out of the classifier's training split" in facts["Test set"]
    assert "The manifest declares known duplicates" in _methods(run)
    page = render_run(run).read_text()
    assert '<section id="leakage">' in page and "0.8125" not in page  # shown at 3 decimals
    assert "16 images, same methods" in page and "6 of them pneumonia: accuracy also moves" in page
    assert "0.812 <span" in page or "0.812 [" in page


def test_the_sidecar_of_a_shipped_model_describes_its_onnx_export(tmp_path: Path) -> None:
    """An export listed in the sidecar's `exports` with the loaded file's sha256 has that provenance."""
    run = _given_file(tmp_path, SHA)
    summary = json.loads((run / "summary.json").read_text())
    weights = Path(summary["classifier"]["path"])
    export = weights.with_suffix(".onnx")
    sidecar = json.loads(weights.with_suffix(".json").read_text())
    (weights.with_suffix(".json")).write_text(json.dumps({**sidecar, "exports": {export.name: "e" * 64}}))
    summary["classifier"] = {
        "source": "file",
        "path": str(export),
        "sha256": "d" * 64,  # the classifier's identity: file and declared preprocessing
        "classifier": {"type": "onnx", "files": [{"path": str(export), "sha256": "e" * 64}]},
    }
    (run / "summary.json").write_text(json.dumps(summary))
    assert "trained on 4 images (3 fit, 1 validation; patients held out)" in _methods(run)


def test_error_bars_are_never_negative_when_a_bound_misses_its_estimate_by_rounding() -> None:
    from reports.figures import error_lengths

    assert error_lengths(1.0, 0.64, 1.0 - 1e-16) == [[pytest.approx(0.36)], [0.0]]
    assert error_lengths(0.5, float("nan"), 0.7) == [[0.0], [pytest.approx(0.2)]]
