"""Screening a run's images: every bad one listed in one error, or skipped and counted; manifest errors
(escaping paths, repeated rows, unknown labels) are never skippable."""

import os

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from benchmark.commands.cli import main
from benchmark.manifest import build_manifest, read_manifest, resolve_image, write_manifest
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.config import load_suite
from benchmark.pipeline.screening import apply_policy, screen
from cxr_kernel.errors import UserError


def radiograph(seed, height=48, width=48):
    return np.random.default_rng(seed).integers(0, 255, (height, width), dtype=np.uint8)


@pytest.fixture
def tree(tmp_path):
    """{train,test}/{NORMAL,PNEUMONIA}/imgN.png, three per folder, all good."""
    root = tmp_path / "data"
    for index, (split, label) in enumerate(
        [(s, lab) for s in ("train", "test") for lab in ("NORMAL", "PNEUMONIA")]
    ):
        (root / split / label).mkdir(parents=True)
        for n in range(3):
            Image.fromarray(radiograph(10 * index + n)).save(root / split / label / f"{label}{n}.png")
    return root


def screened(tree, tmp_path, min_side=16):
    table = build_manifest(tree, progress=False)
    return screen(table, tree, min_side=min_side, cache=Cache(tmp_path / "cache"), progress=False)


def test_good_images_pass_and_the_verdict_is_cached(tree, tmp_path):
    table, problems = screened(tree, tmp_path)
    assert problems.empty and len(table) == 12
    assert len(list((tmp_path / "cache" / "image-check").rglob("*.json"))) == 12


def test_every_kind_of_bad_image_is_found_with_its_reason(tree, tmp_path):
    recorded = build_manifest(tree, progress=False).set_index("path")["sha256"]
    (tree / "test/PNEUMONIA/PNEUMONIA0.png").write_bytes(b"not a png")  # corrupt, recorded as such
    Image.fromarray(radiograph(99, 8, 8)).save(tree / "test/PNEUMONIA/PNEUMONIA1.png")  # too small
    Image.fromarray(radiograph(98, 16, 64)).save(tree / "test/PNEUMONIA/PNEUMONIA2.png")  # 4:1
    Image.fromarray(radiograph(22)).save(tree / "train/NORMAL/NORMAL0.png")  # = test/NORMAL/NORMAL2: leak
    Image.fromarray(radiograph(22)).save(tree / "test/NORMAL/NORMAL3.png")  # = test/NORMAL/NORMAL2: twice
    Image.fromarray(radiograph(1)).save(tree / "train/PNEUMONIA/PNEUMONIA0.png")  # repeated in train: fine
    table = build_manifest(tree, progress=False)
    changed = table["path"] == "test/NORMAL/NORMAL1.png"
    table.loc[changed, "sha256"] = recorded["test/NORMAL/NORMAL1.png"]
    with open(tree / "test/NORMAL/NORMAL1.png", "ab") as handle:  # changed since the manifest
        handle.write(b"x")
    (tree / "test/NORMAL/NORMAL0.png").unlink()  # missing
    table, problems = screen(table, tree, min_side=16, cache=Cache(tmp_path / "c"), progress=False)
    reasons = dict(zip(problems["image_id"], problems["reason"], strict=True))
    assert reasons == {
        "test/NORMAL/NORMAL0.png": "missing",
        "test/NORMAL/NORMAL1.png": "checksum",
        "test/PNEUMONIA/PNEUMONIA0.png": "unreadable",
        "test/PNEUMONIA/PNEUMONIA1.png": "too-small",
        "test/PNEUMONIA/PNEUMONIA2.png": "aspect-ratio",
        "test/NORMAL/NORMAL3.png": "duplicate",
        "train/NORMAL/NORMAL0.png": "duplicate",
    }
    with pytest.raises(UserError) as info:
        apply_policy(table, problems, "fail", tree)
    message = str(info.value)
    assert "7 of 13 images" in message and "--on-bad-image skip" in message
    assert (
        "train/NORMAL/NORMAL0.png: has the same content as the evaluation image test/NORMAL/NORMAL2"
        in message
    )
    assert "trained on and tested" in message and "counted twice" in message
    kept = apply_policy(table, problems, "skip", tree)
    assert len(kept) == 6 and not set(kept["path"]) & set(reasons)


def test_a_bad_verdict_is_not_cached(tree, tmp_path):
    (tree / "test/NORMAL/NORMAL0.png").write_bytes(b"broken")
    _, problems = screened(tree, tmp_path)
    assert list(problems["reason"]) == ["unreadable"]
    assert len(list((tmp_path / "cache" / "image-check").rglob("*.json"))) == 11


def test_duplicate_paths_are_refused_even_when_spelled_differently(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,label,split,sha256\ntest/a.png,NORMAL,test,\n./test//a.png,NORMAL,test,\n")
    with pytest.raises(UserError, match=r"row 3: './test//a.png' names the same file as row 2"):
        read_manifest(path)


def test_unknown_label_names_the_row_and_the_fix(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,label,split,sha256\na.png,normal,test,\n")
    with pytest.raises(UserError, match=r"row 2: label 'normal' is not one of .*case-sensitive"):
        read_manifest(path)


@pytest.mark.parametrize("entry", ["../outside.png", "test/../../outside.png", "/etc/passwd"])
def test_paths_outside_the_data_root_are_refused(tree, entry):
    with pytest.raises(UserError, match="escapes the data root"):
        resolve_image(tree, entry)


def test_absolute_path_inside_the_root_is_refused_too(tree):
    with pytest.raises(UserError, match="must be relative paths"):
        resolve_image(tree, str(tree / "test/NORMAL/NORMAL0.png"))


def test_symlink_pointing_out_of_the_root_is_refused_and_one_inside_is_followed(tree, tmp_path):
    secret = tmp_path / "secret.png"
    Image.fromarray(radiograph(5)).save(secret)
    os.symlink(secret, tree / "test/NORMAL/link.png")
    os.symlink(tree / "test/NORMAL/NORMAL0.png", tree / "test/NORMAL/inside.png")
    with pytest.raises(UserError, match="'test/NORMAL/link.png' escapes the data root"):
        resolve_image(tree, "test/NORMAL/link.png")
    assert resolve_image(tree, "test/NORMAL/inside.png") == (tree / "test/NORMAL/NORMAL0.png").resolve()


@pytest.mark.parametrize(
    ("hr_size", "scale", "message"),
    [(100, 8, "not divisible by scale 8 .*use 96 or 104"), (32, 8, "4 px LR images.*hr_size 64 or more")],
)
def test_hr_size_that_the_scale_cannot_divide_is_refused_before_work(tmp_path, hr_size, scale, message):
    suite = {
        "name": "s",
        "data": {"phantoms": {"size": 64}, "hr_size": hr_size},
        "cells": [{"scenario": "bicubic", "scale": scale}],
        "sr_models": [{"name": "b", "model": "bicubic"}],
        "classifier": {"train": {}},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    with pytest.raises(UserError, match=message):
        load_suite(str(tmp_path / "s.yaml"))


def tiny_suite(tmp_path, tree) -> str:
    write_manifest(build_manifest(tree, progress=False), tmp_path / "m.csv")
    suite = {
        "name": "bad-images",
        "data": {"manifest": "m.csv", "data_root": str(tree), "hr_size": 32},
        "cells": [{"scenario": "bicubic", "scale": 2}],
        "sr_models": [{"name": "bicubic", "model": "bicubic"}],
        # Its file names (NORMAL0, ...) repeat across the splits, so their patients do too.
        "classifier": {
            "train": {"epochs": 1, "batch_size": 4, "augment": False},
            "input_size": 94,
            "allow_test_overlap": True,
        },
        "stats": {"n_bootstrap": 100},
        "examples_per_cell": 0,
    }
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    return str(tmp_path / "suite.yaml")


def test_run_fails_by_default_naming_the_file_and_the_flag(tree, tmp_path, capsys):
    suite = tiny_suite(tmp_path, tree)
    (tree / "test/PNEUMONIA/PNEUMONIA2.png").write_bytes(b"truncated")
    assert main(["run", "--suite", suite, "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert "test/PNEUMONIA/PNEUMONIA2.png: checksum mismatch" in error and "--on-bad-image skip" in error
    assert "Traceback" not in error


@pytest.mark.slow
def test_run_with_skip_leaves_bad_images_out_and_counts_them(tree, tmp_path):
    suite = tiny_suite(tmp_path, tree)
    Image.fromarray(np.stack([radiograph(7)] * 3, axis=2) * np.array([1, 0, 0], np.uint8)).save(
        tree / "test/PNEUMONIA/PNEUMONIA2.png"
    )
    (tree / "test/NORMAL/NORMAL2.png").unlink()
    runs = tmp_path / "runs"
    command = ["run", "--suite", suite, "--runs-dir", str(runs), "--run-id", "r", "--quiet"]
    assert main([*command, "--on-bad-image", "skip"]) == 0
    run = runs / "bad-images" / "r"
    skipped = pd.read_csv(run / "skipped_images.csv")
    assert sorted(skipped["reason"]) == ["checksum", "missing"]
    summary = yaml.safe_load((run / "summary.json").read_text())
    assert summary["skipped_images"] == {
        "policy": "skip",
        "count": 2,
        "by_reason": {"checksum": 1, "missing": 1},
    }
    assert summary["n_images"] == {"eval": 4, "train": 6}
    assert "2 bad image(s) skipped" in (run / "report.html").read_text()
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert not set(predictions["image_id"]) & set(skipped["image_id"])


# -- copies the manifest declares (duplicate_of) ---------------------------------------------------------
def declaring_manifest(tree, tmp_path, declarations: dict[str, str]):
    """The tree's manifest with ``duplicate_of`` set for the given rows, written and read back."""
    table = build_manifest(tree, progress=False)
    table["duplicate_of"] = table["path"].map(declarations).fillna("")
    write_manifest(table, tmp_path / "m.csv")
    return tmp_path / "m.csv"


def data_config(manifest, tree, **limits):
    from benchmark.pipeline.config import DataConfig

    return DataConfig(manifest=manifest, data_root=tree, hr_size=32, **limits)


def test_a_declared_copy_is_left_out_and_listed_while_an_undeclared_one_is_still_refused(tree, tmp_path):
    from benchmark.pipeline.dataset import load_dataset

    for copy in ("test/NORMAL/NORMAL1.png", "test/NORMAL/NORMAL2.png", "train/NORMAL/NORMAL1.png"):
        Image.fromarray(radiograph(20)).save(tree / copy)  # each = test/NORMAL/NORMAL0.png
    declared = {"test/NORMAL/NORMAL1.png": "test/NORMAL/NORMAL0.png"}
    config = data_config(declaring_manifest(tree, tmp_path, declared), tree)
    with pytest.raises(UserError) as info:
        load_dataset(config, seed=0, cache=Cache(tmp_path / "c"), progress=False)
    refused = str(info.value)
    assert "2 of 11 images" in refused and "test/NORMAL/NORMAL2.png: has the same content" in refused
    assert "train/NORMAL/NORMAL1.png: has the same content" in refused and "NORMAL1.png: has" in refused
    assert "test/NORMAL/NORMAL1.png" not in refused.replace("train/NORMAL/NORMAL1.png", "")

    declared |= {
        "test/NORMAL/NORMAL2.png": "./test/NORMAL/NORMAL0.png",
        "train/NORMAL/NORMAL1.png": "test/NORMAL/NORMAL0.png",
    }
    config = data_config(declaring_manifest(tree, tmp_path, declared), tree)
    dataset = load_dataset(config, seed=0, cache=Cache(tmp_path / "c"), progress=False)
    assert sorted(dataset.duplicates["image_id"]) == sorted(declared)
    assert set(dataset.duplicates["duplicate_of"].map(os.path.normpath)) == {"test/NORMAL/NORMAL0.png"}
    assert not set(dataset.images["image_id"]) & set(declared)
    assert len(dataset.split("test")) == 4 and len(dataset.split("train")) == 5
    assert (
        "3 declared byte-identical copies left out (2 of the test split, 1 of the train split" in dataset.note
    )


def test_a_declared_copy_whose_content_differs_is_refused_naming_it(tree, tmp_path):
    from benchmark.pipeline.dataset import load_dataset

    declared = {"test/PNEUMONIA/PNEUMONIA2.png": "test/PNEUMONIA/PNEUMONIA1.png"}
    config = data_config(declaring_manifest(tree, tmp_path, declared), tree)
    with pytest.raises(UserError, match=r"PNEUMONIA2.png: declared a copy of .*PNEUMONIA1.png, but their "):
        load_dataset(config, seed=0, cache=Cache(tmp_path / "c"), progress=False, on_bad_image="skip")


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ("test/NORMAL/absent.png", "names no row of the manifest"),
        ("test/PNEUMONIA/PNEUMONIA0.png", "names a PNEUMONIA image"),
        ("test/NORMAL/NORMAL1.png", "names the row itself"),
        ("test/NORMAL/NORMAL2.png", "names a row that is itself a declared copy"),
    ],
)
def test_a_wrong_declaration_is_refused_naming_the_row(tree, tmp_path, declared, problem):
    declarations = {"test/NORMAL/NORMAL1.png": declared, "test/NORMAL/NORMAL2.png": "test/NORMAL/NORMAL0.png"}
    path = declaring_manifest(tree, tmp_path, declarations)
    with pytest.raises(UserError, match=rf"m.csv, row \d+: duplicate_of '{declared}' {problem}"):
        read_manifest(path)


def test_manifests_without_the_column_stay_valid_and_are_written_without_it(tree, tmp_path):
    write_manifest(build_manifest(tree, progress=False), tmp_path / "old.csv")
    assert (tmp_path / "old.csv").read_text().splitlines()[0] == "path,label,split,sha256,patient_id"
    table = read_manifest(tmp_path / "old.csv")
    assert (table["duplicate_of"] == "").all()
    write_manifest(table, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "old.csv").read_bytes()
