import numpy as np
import pytest

from benchmark.classifier_setup import patient_validation_split, training_recipe
from benchmark.errors import UserError


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
