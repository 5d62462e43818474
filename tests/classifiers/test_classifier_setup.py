import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.pipeline.classifier_setup import (
    patient_validation_split,
    read_training_images,
    training_key,
    training_recipe,
)
from benchmark.pipeline.config import ClassifierConfig
from cxr_kernel.errors import UserError


def test_validation_split_never_puts_one_patient_on_both_sides():
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(40), rng.integers(1, 5, 40))
    labels = (patients % 3 == 0).astype(int)
    fit, held = patient_validation_split(labels, patients, 0.2, seed=0)
    assert not set(patients[fit]) & set(patients[held])
    assert set(labels[held]) == {0, 1}
    assert 0.1 < len(held) / len(labels) < 0.35


def test_validation_split_with_one_patient_per_class_says_what_to_change():
    with pytest.raises(UserError, match="validation_fraction: 0"):
        patient_validation_split(np.array([0, 0, 1]), np.array(["a", "a", "b"]), 0.5, seed=0)


def test_unknown_recipe_key_names_the_valid_ones():
    with pytest.raises(UserError, match=r"unknown keys \['epoch'\].*'epochs'"):
        training_recipe({"epoch": 3})


def test_training_images_are_read_as_keras_load_img_reads_them(tmp_path):
    from classifiers.runtime import keras

    rng = np.random.default_rng(0)
    paths = []
    for index, shape in enumerate([(224, 224), (180, 260)]):
        gray = rng.integers(0, 256, shape).astype(np.uint8)
        paths.append(tmp_path / f"{index}.jpeg")
        Image.fromarray(gray).convert("RGB").save(paths[-1], quality=95)  # R = G = B, like the copies
    images = read_training_images(paths, 300)
    assert images.shape == (2, 300, 300) and images.dtype == np.float32
    for image, path in zip(images, paths, strict=True):
        expected = np.asarray(keras.utils.load_img(path, target_size=(300, 300)), dtype=np.float32) / 255
        for channel in range(3):
            np.testing.assert_array_equal(image, expected[..., channel])


def test_trained_classifier_key_follows_images_recipe_seed_and_input_size():
    """Labels, patients and order: tests/pipeline/test_cache_keys.py."""
    config = ClassifierConfig(train={"epochs": 2})

    def table(shas):
        return pd.DataFrame({"sha256": shas, "label": [0, 1], "patient_id": ["p", "q"]})

    key = training_key(config, table(["a", "b"]), seed=0)
    assert training_key(ClassifierConfig(train={"epochs": 2}), table(["a", "b"]), seed=0) == key
    assert training_key(config, table(["a", "c"]), seed=0) != key
    assert training_key(config, table(["a", "b"]), seed=1) != key
    assert training_key(ClassifierConfig(train={"epochs": 3}), table(["a", "b"]), seed=0) != key
    assert (
        training_key(ClassifierConfig(train={"epochs": 2}, input_size=96), table(["a", "b"]), seed=0) != key
    )


def test_bootstrap_training_split_draws_whole_patients_within_their_strata():
    import pandas as pd

    from benchmark.pipeline.classifier_setup import bootstrap_training_split

    rows = [("n1", 0), ("n1", 0), ("n2", 0), ("n3", 0), ("p1", 1), ("p1", 1), ("p1", 1), ("p2", 1)]
    rows += [("p3", 1), ("b1", 0), ("b1", 1), ("b2", 0), ("b2", 1)]
    train = pd.DataFrame(
        {
            "image_id": [f"img{i}" for i in range(len(rows))],
            "patient_id": [p for p, _ in rows],
            "label": [label for _, label in rows],
        }
    )
    samples = [bootstrap_training_split(train, seed) for seed in range(20)]
    for sample in samples:
        patients = sample.groupby("patient_id")["image_id"].agg(list)
        for patient, images in patients.items():
            own = list(train.loc[train["patient_id"] == patient, "image_id"])
            assert len(images) % len(own) == 0 and sorted(images) == sorted(own * (len(images) // len(own)))
        drawn = {p: len(images) // len(train[train["patient_id"] == p]) for p, images in patients.items()}
        for stratum in (("n1", "n2", "n3"), ("p1", "p2", "p3"), ("b1", "b2")):
            assert sum(drawn.get(p, 0) for p in stratum) == len(stratum)  # patients per stratum kept
    assert bootstrap_training_split(train, 3).equals(samples[3])  # the seed decides
    assert len({tuple(s["image_id"]) for s in samples}) > 10
