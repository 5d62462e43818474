"""Classification metrics against scikit-learn (plain, sample-weighted and bootstrap rows)."""

import numpy as np
import pytest
from sklearn import metrics as skm

from benchmark.metrics import classification as cls


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, 80)
    probs = np.clip(0.35 * labels + rng.uniform(0, 0.65, 80), 0, 1)
    return labels, probs


def _reference(name, labels, probs, weights=None):
    """The scikit-learn value of each metric (threshold 0.5)."""
    predicted = (probs >= 0.5).astype(int)
    return {
        "accuracy": lambda: skm.accuracy_score(labels, predicted, sample_weight=weights),
        "sensitivity": lambda: skm.recall_score(labels, predicted, sample_weight=weights),
        "specificity": lambda: skm.recall_score(labels, predicted, pos_label=0, sample_weight=weights),
        "ppv": lambda: skm.precision_score(labels, predicted, sample_weight=weights),
        "npv": lambda: skm.precision_score(labels, predicted, pos_label=0, sample_weight=weights),
        "f1": lambda: skm.f1_score(labels, predicted, sample_weight=weights),
        "auprc": lambda: skm.average_precision_score(labels, probs, sample_weight=weights),
        "auroc": lambda: skm.roc_auc_score(labels, probs, sample_weight=weights),
        "log_loss": lambda: skm.log_loss(labels, probs, sample_weight=weights, labels=[0, 1]),
        "brier": lambda: skm.brier_score_loss(labels, probs, sample_weight=weights),
    }[name]()


SKLEARN_METRICS = [
    "accuracy",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "auroc",
    "auprc",
    "log_loss",
    "brier",
]


@pytest.mark.parametrize("name", SKLEARN_METRICS)
def test_metric_matches_scikit_learn(data, name):
    labels, probs = data
    assert getattr(cls, name)(labels, probs) == pytest.approx(_reference(name, labels, probs), rel=1e-12)


@pytest.mark.parametrize("name", SKLEARN_METRICS)
def test_weighted_metric_matches_scikit_learn_sample_weight(data, name):
    labels, probs = data
    weights = np.random.default_rng(2).integers(0, 4, labels.size).astype(float)
    assert getattr(cls, name)(labels, probs, weights=weights) == pytest.approx(
        _reference(name, labels, probs, weights), rel=1e-12
    )


@pytest.mark.parametrize("name", [*SKLEARN_METRICS, "ece"])
def test_rows_of_bootstrap_counts_equal_the_metric_on_the_resampled_images(data, name):
    labels, probs = data
    rng = np.random.default_rng(5)
    indices = rng.integers(0, labels.size, size=(4, labels.size))
    counts = np.stack([np.bincount(row, minlength=labels.size) for row in indices])
    rows = getattr(cls, name)(labels, probs, weights=counts)
    expected = [getattr(cls, name)(labels[row], probs[row]) for row in indices]
    if name != "ece":  # the resampled value itself from scikit-learn, independent of our code
        expected = [_reference(name, labels[row], probs[row]) for row in indices]
    assert rows.shape == (4,)
    np.testing.assert_allclose(rows, expected, rtol=1e-12)


def test_auroc_counts_ties_as_one_half_like_scikit_learn(data):
    labels, probs = data
    coarse = np.round(probs, 1)  # many tied scores
    assert cls.auroc(labels, coarse) == pytest.approx(skm.roc_auc_score(labels, coarse), rel=1e-12)


def test_auprc_with_ties_is_scikit_learns_average_precision(data):
    labels, probs = data
    coarse = np.round(probs, 1)
    weights = np.random.default_rng(3).integers(0, 3, labels.size).astype(float)
    assert cls.auprc(labels, coarse) == pytest.approx(skm.average_precision_score(labels, coarse), rel=1e-12)
    assert cls.auprc(labels, coarse, weights=weights) == pytest.approx(
        skm.average_precision_score(labels, coarse, sample_weight=weights), rel=1e-12
    )


def test_confusion_counts_match_scikit_learn(data):
    labels, probs = data
    tn, fp, fn, tp = skm.confusion_matrix(labels, (probs >= 0.3).astype(int)).ravel()
    assert cls.confusion_counts(labels, probs, threshold=0.3) == {"tp": tp, "fp": fp, "tn": tn, "fn": fn}


@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_youden_threshold_maximises_j_over_every_observed_score(data, decimals):
    labels, probs = data
    probs = np.round(probs, decimals)
    candidates = np.unique(probs)
    youden = [
        skm.recall_score(labels, probs >= t) + skm.recall_score(labels, probs >= t, pos_label=0) - 1
        for t in candidates
    ]
    best = candidates[np.flatnonzero(np.isclose(youden, max(youden), rtol=0, atol=1e-12))].max()
    assert cls.youden_threshold(labels, probs) == best


def test_youden_threshold_separates_perfectly_separable_scores():
    labels, probs = np.array([0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.7, 0.9])
    assert cls.youden_threshold(labels, probs) == 0.7


def test_ppv_without_a_positive_call_raises_and_is_nan_in_bootstrap_rows():
    labels, probs = np.array([0, 1, 1]), np.array([0.2, 0.4, 0.9])
    with pytest.raises(ValueError, match="PPV needs at least one image with prob >= 0.95"):
        cls.ppv(labels, probs, threshold=0.95)
    rows = cls.ppv(labels, probs, weights=np.array([[1, 1, 1], [2, 1, 0]]))
    assert rows[0] == 1.0 and np.isnan(rows[1])


def test_log_loss_clips_certain_wrong_predictions_like_scikit_learn():
    labels, probs = np.array([0, 1, 1, 0]), np.array([0.0, 1.0, 0.0, 0.3])
    assert cls.log_loss(labels, probs) == pytest.approx(skm.log_loss(labels, probs), rel=1e-12)


def test_ece_matches_a_hand_computation():
    labels = np.array([0, 1, 0, 1, 1, 0])
    probs = np.array([0.05, 0.15, 0.12, 0.95, 0.9, 1.0])
    # bins: [0, .1): {0.05 | 0} gap 0.05; [.1, .2): {0.15, 0.12 | 1, 0} gap |0.135 - 0.5| = 0.365;
    # [.9, 1]: {0.95, 0.9, 1.0 | 1, 1, 0} gap |0.95 - 2/3|.  ECE = sum(count * gap) / 6.
    expected = (1 * 0.05 + 2 * 0.365 + 3 * abs(0.95 - 2 / 3)) / 6
    assert cls.ece(labels, probs) == pytest.approx(expected, rel=1e-12)


def test_ece_is_zero_for_perfectly_calibrated_bins():
    labels = np.array([0, 1, 1, 0, 0, 0])
    probs = np.array([0.5, 0.5, 0.25, 0.25, 0.25, 0.25])
    assert cls.ece(labels, probs) == pytest.approx(0.0, abs=1e-12)


def test_auroc_on_one_class_raises_a_clear_error():
    with pytest.raises(ValueError, match="AUROC needs both classes; got only label 1 in 30 images"):
        cls.auroc(np.ones(30, dtype=int), np.linspace(0, 1, 30))


def test_bootstrap_row_with_one_class_gives_nan_not_an_error():
    labels, probs = np.array([0, 1, 1]), np.array([0.2, 0.8, 0.6])
    rows = cls.auroc(labels, probs, weights=np.array([[1, 1, 1], [0, 2, 1]]))
    assert rows[0] == 1.0 and np.isnan(rows[1])


def test_sensitivity_without_positive_images_raises():
    with pytest.raises(ValueError, match="sensitivity needs at least one image with label 1"):
        cls.sensitivity(np.zeros(5, dtype=int), np.full(5, 0.3))


def test_threshold_decides_the_prediction():
    labels, probs = np.array([1, 1, 0]), np.array([0.5, 0.4, 0.45])
    assert cls.accuracy(labels, probs, threshold=0.5) == pytest.approx(2 / 3)
    assert cls.accuracy(labels, probs, threshold=0.6) == pytest.approx(1 / 3)


def test_labels_other_than_zero_and_one_are_rejected():
    with pytest.raises(ValueError, match="Expected labels 0 \\(normal\\) or 1"):
        cls.accuracy(np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]))


def test_probabilities_outside_unit_interval_report_min_and_max():
    with pytest.raises(ValueError, match="got min -0.5 and max 2"):
        cls.brier(np.array([0, 1, 1]), np.array([-0.5, 0.2, 2.0]))


def test_length_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"labels \(3,\) and probs \(2,\)"):
        cls.log_loss(np.array([0, 1, 1]), np.array([0.1, 0.2]))
