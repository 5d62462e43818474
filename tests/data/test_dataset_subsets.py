"""Training subsets: seeded whole patients; evaluation subsets: a fixed set; neither follows row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmark.pipeline.classifier_setup import training_list
from benchmark.pipeline.config import ClassifierConfig
from benchmark.pipeline.dataset import _eval_subset, _train_subset


def _manifest(seed: int = 0) -> pd.DataFrame:
    """60 train patients with 1-4 images each and 40 test images, both labels, manifest-like columns."""
    rng = np.random.default_rng(seed)
    rows = []
    for patient in range(60):
        label = "PNEUMONIA" if patient % 3 else "NORMAL"
        for image in range(rng.integers(1, 5)):
            rows.append((f"train/{label}/p{patient}_{image}.jpeg", label, "train", f"p{patient}"))
    for image in range(40):
        label = "PNEUMONIA" if image % 2 else "NORMAL"
        rows.append((f"test/{label}/t{image}.jpeg", label, "test", f"t{image}"))
    table = pd.DataFrame(rows, columns=["path", "label", "split", "patient_id"])
    return table.assign(sha256=[f"{i:064x}" for i in range(len(table))])


def _chosen(table: pd.DataFrame, split: str) -> set[str]:
    return set(table.loc[table["split"] == split, "path"])


def test_training_subset_draws_whole_patients_until_the_count_per_class():
    table = _manifest()
    kept = _train_subset(table, "train", 10, seed=0)
    train = kept[kept["split"] == "train"]
    assert train.groupby("label").size().to_dict() == {"NORMAL": 10, "PNEUMONIA": 10}
    assert _chosen(kept, "test") == _chosen(table, "test")  # other splits untouched
    complete = table.groupby("patient_id").size()
    partial = [p for p, n in train.groupby("patient_id").size().items() if n < complete[p]]
    assert len(partial) <= 2  # at most the last patient drawn of each class is cut short
    assert list(kept.index) == sorted(kept.index)  # manifest order kept


def test_training_subset_follows_the_seed_not_the_row_order():
    table = _manifest()
    first = _chosen(_train_subset(table, "train", 10, seed=0), "train")
    shuffled = table.sample(frac=1, random_state=5).reset_index(drop=True)
    assert _chosen(_train_subset(shuffled, "train", 10, seed=0), "train") == first
    assert _chosen(_train_subset(table, "train", 10, seed=1), "train") != first
    assert first != _chosen(table[table["split"] == "train"].groupby("label").head(10), "train")


def test_removing_an_unchosen_row_leaves_the_training_subset_unchanged():
    table = _manifest()
    first = _chosen(_train_subset(table, "train", 10, seed=0), "train")
    unchosen = table.index[(table["split"] == "train") & ~table["path"].isin(first)][:5]
    assert _chosen(_train_subset(table.drop(unchosen), "train", 10, seed=0), "train") == first


def test_evaluation_subset_is_the_first_paths_whatever_the_row_order():
    table = _manifest()
    kept = _chosen(_eval_subset(table, "test", 6), "test")
    expected = {f"test/NORMAL/t{i}.jpeg" for i in (0, 10, 12, 14, 16, 18)}  # path order: t0, t10, t12...
    expected |= {f"test/PNEUMONIA/t{i}.jpeg" for i in (1, 11, 13, 15, 17, 19)}
    assert kept == expected
    shuffled = table.sample(frac=1, random_state=2).reset_index(drop=True)
    assert _chosen(_eval_subset(shuffled, "test", 6), "test") == kept
    assert _chosen(_eval_subset(table, "train", 3), "test") == _chosen(table, "test")


@pytest.mark.parametrize("subset", [_eval_subset, lambda t, s, n: _train_subset(t, s, n, seed=0)])
def test_no_limit_keeps_every_row(subset):
    table = _manifest()
    pd.testing.assert_frame_equal(subset(table, "train", None), table)


def test_training_list_marks_the_patient_wise_validation_images():
    table = _manifest()
    train = table[table["split"] == "train"].rename(columns={"path": "image_id"}).reset_index(drop=True)
    train["label"] = (train["label"] == "PNEUMONIA").astype(int)
    listed = training_list(ClassifierConfig(train={"validation_fraction": 0.2}), train, seed=0)
    assert list(listed.columns) == ["image_id", "label", "patient_id", "sha256", "role"]
    assert list(listed["image_id"]) == list(train["image_id"])
    held = listed["role"] == "validation"
    assert 0.1 < held.mean() < 0.35
    assert not set(listed.loc[held, "patient_id"]) & set(listed.loc[~held, "patient_id"])
    assert training_list(ClassifierConfig(weights="given.keras"), train, seed=0) is None
