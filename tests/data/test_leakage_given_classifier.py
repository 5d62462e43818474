"""The leakage check of a given classifier file: its training list read from the ship sidecar (rebuilt
from the manifest, used only when the files reproduce the recorded checksum) or from the pins (ids and
checksums), and the sensitivity analysis without the overlapping test images."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.manifest import build_manifest, list_checksum, read_manifest, sha256_file, write_manifest
from benchmark.pipeline.config import PROJECT_DIR
from benchmark.pipeline.run_leakage import overlap_sensitivity, overlapping_test_images
from benchmark.pipeline.training_record import recorded_training

PINNED = PROJECT_DIR / "data_manifests" / "pinned" / "pneumonia-mini"
KERMANY_224 = PROJECT_DIR.parent / "shared" / "data" / "kermany-224"


@pytest.fixture
def shipped(tmp_path):
    """A data root ({train,test}/{NORMAL,PNEUMONIA}/personN_k.png), its manifest and a fake classifier
    file with a sidecar recording the train split's list checksum."""
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("NORMAL", "PNEUMONIA"):
            (root / split / label).mkdir(parents=True)
            for n in range(3):
                image = rng.integers(0, 255, (32, 32), dtype=np.uint8)
                Image.fromarray(image).save(root / split / label / f"person{n}_{label}_{split}.png")
    table = build_manifest(root, progress=False)
    write_manifest(table, tmp_path / "m.csv")
    weights = tmp_path / "cnn.keras"
    weights.write_bytes(b"a model")
    train = table[table["split"] == "train"].rename(columns={"path": "image_id"})
    sidecar = {
        "model_sha256": sha256_file(weights),
        "data": {
            "manifest": str(tmp_path / "m.csv"),
            "data_root": str(root),
            "train": {"split": "train", "list_sha256": list_checksum(train)},
        },
    }
    (tmp_path / "cnn.json").write_text(json.dumps(sidecar))
    return weights, root


def test_the_sidecar_list_is_rebuilt_from_the_manifest_and_verified_by_its_checksum(shipped):
    weights, root = shipped
    record = recorded_training(weights, sha256_file(weights))
    assert record.source == "cnn.json" and len(record.images) == 6
    assert set(record.images["image_id"]) == {p.relative_to(root).as_posix() for p in root.glob("train/*/*")}
    assert set(record.images["patient_id"]) == {"person0", "person1", "person2"}


def test_a_changed_training_file_or_another_model_leaves_the_training_data_unknown(shipped):
    weights, root = shipped
    assert recorded_training(weights, "0" * 64).images is None  # the sidecar describes another file
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "train/NORMAL/person0_NORMAL_train.png")
    record = recorded_training(weights, sha256_file(weights))
    assert record.images is None and "reproduces the list_sha256" in record.note


def test_the_pinned_mini_classifier_lists_its_120_training_images_and_shares_three_patients():
    weights = PINNED / "classifier.keras"
    record = recorded_training(weights, sha256_file(weights))
    assert record.source == "pins.json" and len(record.images) == 120
    manifest = read_manifest(PROJECT_DIR / "data_manifests" / "pneumonia-mini.csv")
    assert set(record.images["image_id"]) == set(manifest.loc[manifest["split"] == "train", "path"])
    test = manifest[manifest["split"] == "test"]
    shared = set(record.images["patient_id"]) & set(test["patient_id"])
    assert shared == {"person100", "person101", "person102"}
    assert test["patient_id"].isin(shared).sum() == 12 and (test["patient_id"] == "person100").sum() == 7


@pytest.mark.skipif(not KERMANY_224.is_dir(), reason="../shared/data/kermany-224 not beside the checkout")
def test_the_shipped_reference_cnn_sidecar_reproduces_its_5216_training_images():
    weights = PROJECT_DIR / "classifiers" / "weights" / "reference-cnn.keras"
    record = recorded_training(weights, sha256_file(weights))
    assert len(record.images) == 5216, record.note
    manifest = read_manifest(PROJECT_DIR / "data_manifests" / "pneumonia.csv")
    test = manifest[(manifest["split"] == "test") & (manifest["duplicate_of"] == "")]
    assert len(set(record.images["patient_id"]) & set(test["patient_id"])) == 170


def test_the_sensitivity_analysis_leaves_out_the_overlap_and_matches_a_direct_count():
    rng = np.random.default_rng(3)
    images = [f"img{i}" for i in range(40)]
    labels = np.array([0, 1] * 20)
    rows = [
        pd.DataFrame({"cell": "c", "variant": v, "image_id": images, "label": labels, "prob": rng.random(40)})
        for v in ("HR", "sr")
    ]
    predictions = pd.concat(rows, ignore_index=True)
    leakage = {
        "checked": True,
        "patients": [{"patient_id": "p", "n_train": 1, "n_test": 3, "test_images": "img0;img1;img2"}],
        "near_duplicates": [{"test_image": "img5", "train_image": "t", "distance": 0.0}],
    }
    assert overlapping_test_images(leakage) == ["img0", "img1", "img2", "img5"]
    options = {"threshold": 0.5, "confidence": 0.95, "n_bootstrap": 200, "seed": 0, "clusters": None}
    options["bootstrap_ci"] = "bca"
    result = overlap_sensitivity(leakage, predictions, options, ["accuracy", "auroc"])
    assert result["left_out_images"] == 4 and result["n_images"] == 36 and result["n_pneumonia"] == 18
    estimates = {(r["variant"], r["metric"]): r for r in result["classification"]}
    assert set(estimates) == {(v, m) for v in ("HR", "sr") for m in ("accuracy", "auroc")}
    kept = predictions[~predictions["image_id"].isin(["img0", "img1", "img2", "img5"])]
    for variant, group in kept.groupby("variant"):
        correct = ((group["prob"] >= 0.5).astype(int) == group["label"]).mean()
        assert estimates[(variant, "accuracy")]["estimate"] == pytest.approx(correct, abs=1e-12)
        assert estimates[(variant, "accuracy")]["n"] == 36
        pairs = [
            (p, n) for p in group.loc[group.label == 1, "prob"] for n in group.loc[group.label == 0, "prob"]
        ]
        auroc = np.mean([1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs])
        assert estimates[(variant, "auroc")]["estimate"] == pytest.approx(auroc, abs=1e-12)
    assert overlap_sensitivity({"checked": False}, predictions, options, ["accuracy"]) is None


def test_near_duplicates_are_cached_by_both_lists_and_read_back_without_reading_images(
    shipped, tmp_path, monkeypatch
):
    from types import SimpleNamespace

    from benchmark import leakage
    from benchmark.pipeline.cache import Cache
    from benchmark.pipeline.dataset import Dataset
    from benchmark.pipeline.run_leakage import check_run_leakage

    weights, root = shipped
    table = read_manifest(tmp_path / "m.csv")
    images = pd.DataFrame(
        {
            "image_id": table["path"],
            "path": [str(root / p) for p in table["path"]],
            "label": (table["label"] == "PNEUMONIA").astype(int),
            "split": table["split"],
            "sha256": table["sha256"],
            "patient_id": table["patient_id"],
        }
    )
    dataset = Dataset(images=images, synthetic=False, note="")
    classifier = SimpleNamespace(weights=weights, allow_test_overlap=True)
    suite = SimpleNamespace(panel=[(None, classifier)], data=SimpleNamespace(train_split="train"))
    cache = Cache(tmp_path / "cache")
    first = check_run_leakage(suite, dataset, dataset.split("test"), cache)
    assert first["checked"] and len(first["patients"]) == 3  # person0..2 in both splits
    assert first["training_images"]["source"] == "cnn.json"

    def read_again(*args, **kwargs):
        raise RuntimeError("thumbnails read again")

    monkeypatch.setattr(leakage, "thumbnails", read_again)
    assert check_run_leakage(suite, dataset, dataset.split("test"), cache) == first
    with pytest.raises(RuntimeError, match="thumbnails read again"):  # another test list: computed
        check_run_leakage(suite, dataset, dataset.split("test").iloc[:4], cache)


def test_a_pinned_classifier_sharing_patients_is_refused_unless_the_suite_allows_it(tmp_path, capsys):
    from benchmark.commands.cli import main
    from tests.support.suite_files import absolute_suite

    def disallow(raw):
        raw["classifier"].pop("allow_test_overlap")

    suite = absolute_suite(tmp_path, "pneumonia-mini", changes=disallow)
    command = ["run", "--suite", suite, "--smoke", "--runs-dir", str(tmp_path / "runs"), "--quiet"]
    assert main(command) == 2
    error = capsys.readouterr().err
    assert "training images overlap the test images: 1 patients in both splits (person100)" in error
    assert "allow_test_overlap" in error and "Traceback" not in error
