import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.manifest import (
    build_manifest,
    patient_id,
    read_manifest,
    resolve_image,
    sha256_file,
    verify_manifest,
    write_manifest,
)
from cxr_kernel.errors import UserError


@pytest.fixture
def kaggle_tree(tmp_path):
    """A tiny Kaggle-layout folder: chest_xray/{train,test}/{NORMAL,PNEUMONIA}/*.jpeg."""
    root = tmp_path / "chest_xray"
    names = {
        ("train", "NORMAL"): ["IM-0115-0001.jpeg", "NORMAL2-IM-0927-0001.jpeg"],
        ("train", "PNEUMONIA"): ["person1_bacteria_1.jpeg"],
        ("test", "NORMAL"): ["IM-0001-0001.jpeg"],
        ("test", "PNEUMONIA"): ["person100_virus_184.jpeg", "person100_virus_185.jpeg"],
    }
    rng = np.random.default_rng(0)
    for (split, label), files in names.items():
        (root / split / label).mkdir(parents=True)
        for name in files:
            Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(root / split / label / name)
    return root


def test_build_lists_every_image_with_label_split_checksum_and_patient(kaggle_tree):
    table = build_manifest(kaggle_tree, progress=False)
    assert len(table) == 6
    row = table[table["path"] == "test/PNEUMONIA/person100_virus_184.jpeg"].iloc[0]
    assert (row.label, row.split, row.patient_id) == ("PNEUMONIA", "test", "person100")
    assert row.sha256 == sha256_file(kaggle_tree / row.path)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("person1_bacteria_1.jpeg", "person1"),
        ("IM-0115-0001.jpeg", "IM-0115"),
        ("NORMAL2-IM-0927-0001.jpeg", "NORMAL2-IM-0927"),
        ("other.png", "other"),
    ],
)
def test_patient_id_follows_kermany_file_names(name, expected):
    assert patient_id(name) == expected


def test_build_on_parent_folder_suggests_chest_xray(kaggle_tree):
    with pytest.raises(UserError, match="chest_xray"):
        build_manifest(kaggle_tree.parent, progress=False)


def test_manifest_round_trips_and_verifies(kaggle_tree, tmp_path):
    path = write_manifest(build_manifest(kaggle_tree, progress=False), tmp_path / "m.csv")
    table = read_manifest(path)
    assert verify_manifest(table, kaggle_tree, progress=False)["sha256"].tolist() == table["sha256"].tolist()


def test_checksum_mismatch_names_the_file(kaggle_tree):
    table = build_manifest(kaggle_tree, progress=False)
    victim = kaggle_tree / table.at[0, "path"]
    victim.write_bytes(victim.read_bytes() + b"tampered")
    with pytest.raises(UserError, match=r"checksum mismatch for .*" + victim.name):
        verify_manifest(table, kaggle_tree, progress=False)


def test_missing_file_names_the_file(kaggle_tree):
    table = build_manifest(kaggle_tree, progress=False)
    (kaggle_tree / table.at[2, "path"]).unlink()
    with pytest.raises(UserError, match=r"missing file .*" + table.at[2, "path"].split("/")[-1]):
        verify_manifest(table, kaggle_tree, progress=False)


def test_path_escaping_the_data_root_is_refused(kaggle_tree):
    with pytest.raises(UserError, match="escapes the data root"):
        resolve_image(kaggle_tree, "../outside.jpeg")
    table = pd.DataFrame(
        [{"path": "../../etc/passwd", "label": "NORMAL", "split": "test", "sha256": "", "patient_id": "x"}]
    )
    with pytest.raises(UserError, match="escapes"):
        verify_manifest(table, kaggle_tree, progress=False)


def test_unrecorded_checksums_are_filled_in_by_verify(kaggle_tree):
    table = build_manifest(kaggle_tree, checksums=False, progress=False)
    assert (table["sha256"] == "").all()
    verified = verify_manifest(table, kaggle_tree, progress=False)
    assert verified.at[0, "sha256"] == sha256_file(kaggle_tree / table.at[0, "path"])


def test_bad_label_names_the_row(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,label,split,sha256\na.png,NORMAL,test,\nb.png,COVID,test,\n")
    with pytest.raises(UserError, match=r"row 3: label 'COVID'"):
        read_manifest(path)


def test_shipped_pneumonia_manifest_lists_the_kermany_test_split():
    from benchmark.pipeline.config import PROJECT_DIR

    table = read_manifest(PROJECT_DIR / "data_manifests" / "pneumonia.csv")
    test = table[table["split"] == "test"]
    assert test["label"].value_counts().to_dict() == {"PNEUMONIA": 390, "NORMAL": 234}


def test_shipped_pneumonia_manifest_declares_the_byte_identical_copies_of_the_official_split():
    """6 test and 26 train copies, each kept copy the first of its group by path; on the shared
    224-px copies every declared pair is byte-identical (checked when the data is there)."""
    from benchmark.manifest import sha256_file
    from benchmark.pipeline.config import PROJECT_DIR

    table = read_manifest(PROJECT_DIR / "data_manifests" / "pneumonia.csv")
    copies = table[table["duplicate_of"] != ""]
    assert copies["split"].value_counts().to_dict() == {"train": 26, "test": 6}
    assert (copies["duplicate_of"] < copies["path"]).all()
    test = table[(table["split"] == "test") & (table["duplicate_of"] == "")]
    assert test["label"].value_counts().to_dict() == {"PNEUMONIA": 387, "NORMAL": 231}
    root = PROJECT_DIR.parent / "shared" / "data" / "kermany-224"
    if root.is_dir():
        for row in copies.itertuples():
            assert sha256_file(root / row.path) == sha256_file(root / row.duplicate_of), row.path


def test_verify_fill_checksums_keeps_the_declared_copies(kaggle_tree, tmp_path, capsys):
    from benchmark.commands.cli import main

    table = build_manifest(kaggle_tree, checksums=False, progress=False)
    copy = "test/PNEUMONIA/person100_virus_185.jpeg"
    table["duplicate_of"] = [
        "test/PNEUMONIA/person100_virus_184.jpeg" if p == copy else "" for p in table["path"]
    ]
    write_manifest(table, tmp_path / "m.csv")
    command = ["manifest", "verify", str(tmp_path / "m.csv"), "--data-root", str(kaggle_tree)]
    assert main([*command, "--fill-checksums", "--quiet"]) == 0
    written = read_manifest(tmp_path / "m.csv")
    assert (written["sha256"] != "").all()
    assert written.set_index("path").at[copy, "duplicate_of"] == "test/PNEUMONIA/person100_virus_184.jpeg"
