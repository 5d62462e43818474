"""Leakage between training and test images: shared patients and rescaled copies of test radiographs."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.images import write_png
from benchmark.leakage import check_leakage, near_duplicates, patient_overlap
from benchmark.phantoms import make_phantom
from cxr_kernel.errors import UserError


@pytest.fixture
def splits(tmp_path):
    """Test: 3 phantoms at 320 px; train: 4 other phantoms and a 224-px JPEG copy of test image 1."""

    def write(name, image):
        path = tmp_path / name
        write_png(path, image)
        return str(path)

    test = [
        write(f"test-{i}.png", make_phantom(label, i, size=320, seed=0))
        for i, label in enumerate(["NORMAL", "PNEUMONIA", "NORMAL"])
    ]
    train = [
        write(f"train-{i}.png", make_phantom(label, 10 + i, size=320, seed=0))
        for i, label in enumerate(["NORMAL", "PNEUMONIA"] * 2)
    ]
    copy = tmp_path / "train-copy.jpeg"
    original = np.asarray(Image.open(test[1]))
    Image.fromarray(original).resize((224, 224), Image.BICUBIC).save(copy, quality=85)
    train.append(str(copy))
    test_frame = pd.DataFrame(
        {"image_id": [f"t{i}" for i in range(3)], "path": test, "patient_id": ["A", "B", "C"]}
    )
    train_frame = pd.DataFrame(
        {"image_id": [f"r{i}" for i in range(5)], "path": train, "patient_id": ["D", "B", "E", "F", "G"]}
    )
    return train_frame, test_frame


def test_a_224_px_jpeg_copy_of_a_test_image_is_found_and_distinct_images_are_not(splits):
    train, test = splits
    found = near_duplicates(test, train)
    assert list(zip(found["test_image"], found["train_image"], strict=True)) == [("t1", "r4")]
    assert found["distance"].iloc[0] < 1e-3


def test_patients_in_both_splits_are_listed(splits):
    train, test = splits
    overlap = patient_overlap(train, test)
    assert overlap.to_dict("records") == [{"patient_id": "B", "n_train": 1, "n_test": 1, "test_images": "t1"}]


def test_overlap_refuses_the_run_unless_allowed(splits):
    train, test = splits
    with pytest.raises(
        UserError,
        match=r"1 patients in both splits \(B\) and 1 near-duplicate image pairs, test ~ train \(t1 ~ r4\)"
        r".*allow_test_overlap",
    ):
        check_leakage(train, test, allowed=False)
    record = check_leakage(train, test, allowed=True)
    assert record["patients"][0]["patient_id"] == "B" and record["near_duplicates"][0]["train_image"] == "r4"
    clean = check_leakage(train.iloc[[0, 2, 3]], test, allowed=False)
    assert clean["patients"] == [] and clean["near_duplicates"] == []
