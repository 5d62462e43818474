"""Diagnosis flips on a tiny hand-made table; rates against statsmodels, the mean change against numpy."""

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from benchmark.stats.flips import flip_counts, flip_mask, flip_summary

# image:          a    b    c    d    e    f
LABELS = np.array([1, 1, 0, 0, 1, 0])
PROB_HR = np.array([0.9, 0.3, 0.2, 0.7, 0.6, 0.1])  # predicts 1 0 0 1 1 0
PROB_SR = np.array([0.4, 0.8, 0.5, 0.7, 0.55, 0.1])  # predicts 0 1 1 1 1 0


def test_flip_mask_marks_changed_predictions():
    np.testing.assert_array_equal(flip_mask(PROB_HR, PROB_SR), [True, True, True, False, False, False])


def test_flip_counts_by_direction_and_effect():
    # a: HR pneumonia (right) -> normal (wrong); b: HR normal (wrong) -> pneumonia (right);
    # c: HR normal (right) -> pneumonia (wrong).
    assert flip_counts(LABELS, PROB_HR, PROB_SR) == {
        "n": 6,
        "n_flips": 3,
        "flip_rate": 0.5,
        "normal_to_pneumonia": 2,
        "pneumonia_to_normal": 1,
        "correct_to_wrong": 2,
        "wrong_to_correct": 1,
    }


def test_threshold_is_applied_as_greater_or_equal():
    # At threshold 0.55 image e stays pneumonia (0.55 >= 0.55) and c stays normal (0.5 < 0.55).
    counts = flip_counts(LABELS, PROB_HR, PROB_SR, threshold=0.55)
    assert counts["n_flips"] == 2 and counts["normal_to_pneumonia"] == 1


def test_identical_probabilities_never_flip():
    counts = flip_counts(LABELS, PROB_HR, PROB_HR.copy())
    assert counts["n_flips"] == 0 and counts["flip_rate"] == 0.0


def test_misaligned_inputs_name_both_lengths():
    with pytest.raises(ValueError, match=r"shapes \(6,\) and \(5,\)"):
        flip_mask(PROB_HR, PROB_SR[:5])
    with pytest.raises(ValueError, match="5 labels for 6 images"):
        flip_counts(LABELS[:5], PROB_HR, PROB_SR)


def test_flip_summary_rates_have_wilson_intervals_and_the_mean_change_a_bootstrap_one():
    rng = np.random.default_rng(0)
    weights = rng.multinomial(6, np.full(6, 1 / 6), size=500).astype(float)
    summary = flip_summary(LABELS, PROB_HR, PROB_SR, threshold=0.5, weights=weights)
    # harmful: a (1 -> 0, label 1); helpful: b (0 -> 1, label 1); c is harmful (0 -> 1, label 0).
    assert summary["correct_to_wrong"] == 2 and summary["wrong_to_correct"] == 1
    assert summary["harmful_rate"] == pytest.approx(2 / 6) and summary["helpful_rate"] == pytest.approx(1 / 6)
    expected = proportion_confint(2, 6, method="wilson")
    assert (summary["harmful_ci_low"], summary["harmful_ci_high"]) == pytest.approx(expected, rel=1e-12)
    expected = proportion_confint(3, 6, method="wilson")
    assert (summary["flip_rate_ci_low"], summary["flip_rate_ci_high"]) == pytest.approx(expected, rel=1e-12)
    change = np.abs(PROB_SR - PROB_HR)  # 0.5, 0.5, 0.3, 0, 0.05, 0
    assert summary["mean_abs_prob_change"] == pytest.approx(1.35 / 6)
    resampled = [change[np.repeat(np.arange(6), row.astype(int))].mean() for row in weights]
    expected = np.quantile(resampled, [0.025, 0.975])
    assert (summary["mean_abs_prob_change_ci_low"], summary["mean_abs_prob_change_ci_high"]) == pytest.approx(
        expected, rel=1e-12
    )
