"""Paired tests: McNemar vs scipy's binomial test, DeLong vs brute force and bootstrap, Wilcoxon vs scipy."""

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar

from benchmark.stats import paired


def _correctness(both: int, only_variant: int, only_reference: int, neither: int):
    variant = np.r_[[1] * both, [1] * only_variant, [0] * only_reference, [0] * neither].astype(bool)
    reference = np.r_[[1] * both, [0] * only_variant, [1] * only_reference, [0] * neither].astype(bool)
    return variant, reference


def test_mcnemar_exact_equals_binomial_test_on_discordant_pairs():
    result = paired.mcnemar_test(*_correctness(5, 3, 9, 7))
    assert result.p_value == pytest.approx(stats.binomtest(3, 12, 0.5).pvalue, rel=1e-12)
    assert result.p_value == pytest.approx(0.14599609375)
    assert result.statistic == 3 and result.note == ""


@pytest.mark.parametrize(
    ("table", "method"),
    [
        ((5, 3, 9, 7), "exact-binomial"),
        ((40, 10, 14, 6), "exact-binomial"),  # 24 discordant pairs: still exact
        ((40, 10, 15, 6), "chi2-continuity"),  # 25: chi-square with continuity correction
        ((100, 31, 12, 20), "chi2-continuity"),
    ],
)
def test_mcnemar_matches_statsmodels_on_hand_made_tables(table, method):
    both, only_variant, only_reference, neither = table
    result = paired.mcnemar_test(*_correctness(*table))
    exact = method == "exact-binomial"
    expected = mcnemar([[both, only_variant], [only_reference, neither]], exact=exact, correction=True)
    assert result.method == method
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert (result.only_variant, result.only_reference) == (only_variant, only_reference)


def test_mcnemar_chi_square_is_the_continuity_corrected_formula():
    """(|b - c| - 1)^2 / (b + c) on b = 31, c = 12: 18^2 / 43, against the chi-square(1) tail."""
    result = paired.mcnemar_test(*_correctness(100, 31, 12, 20))
    assert result.statistic == pytest.approx(18**2 / 43, rel=1e-12)
    assert result.p_value == pytest.approx(stats.chi2.sf(18**2 / 43, 1), rel=1e-12)


def test_mcnemar_without_discordant_pairs_has_p_one():
    result = paired.mcnemar_test(*_correctness(10, 0, 0, 4))
    assert result.p_value == 1.0 and result.note == "no discordant pairs"


def test_mcnemar_rejects_different_lengths():
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(2,\)"):
        paired.mcnemar_test(np.ones(3, bool), np.ones(2, bool))


def _brute_force_delong(labels: np.ndarray, scores: np.ndarray):
    """DeLong et al. (1988) by definition: psi over all positive-negative pairs, O(k m n)."""
    pos, neg = scores[:, labels == 1], scores[:, labels == 0]
    m, n = pos.shape[1], neg.shape[1]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])
    theta = psi.mean(axis=(1, 2))
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)
    k = scores.shape[0]
    s10, s01 = np.zeros((k, k)), np.zeros((k, k))
    for r in range(k):
        for s in range(k):
            s10[r, s] = sum((v10[r, i] - theta[r]) * (v10[s, i] - theta[s]) for i in range(m)) / (m - 1)
            s01[r, s] = sum((v01[r, j] - theta[r]) * (v01[s, j] - theta[s]) for j in range(n)) / (n - 1)
    return theta, v10, v01, s10 / m + s01 / n


@pytest.fixture
def scored():
    """Labels and two correlated, tie-rich score sets (rounded to 2 decimals)."""
    rng = np.random.default_rng(21)
    labels = rng.integers(0, 2, 90)
    latent = rng.normal(0, 1, 90) + 1.2 * labels
    first = np.round(1 / (1 + np.exp(-(latent + rng.normal(0, 0.6, 90)))), 2)
    second = np.round(1 / (1 + np.exp(-(latent + rng.normal(0, 1.2, 90)))), 2)
    return labels, np.stack([first, second])


def test_delong_components_equal_brute_force_structural_components(scored):
    labels, scores = scored
    theta, v10, v01, _ = _brute_force_delong(labels, scores)
    aucs, positive, negative = paired.delong_components(labels, scores)
    np.testing.assert_allclose(aucs, theta, rtol=1e-12)
    np.testing.assert_allclose(positive, v10, rtol=1e-12)
    np.testing.assert_allclose(negative, v01, rtol=1e-12)
    np.testing.assert_allclose(aucs, [roc_auc_score(labels, row) for row in scores], rtol=1e-12)


def test_delong_covariance_equals_brute_force(scored):
    labels, scores = scored
    _, _, _, expected = _brute_force_delong(labels, scores)
    _, covariance = paired.delong_covariance(labels, scores)
    np.testing.assert_allclose(covariance, expected, rtol=1e-10)


def test_delong_variance_is_close_to_the_bootstrap_variance(scored):
    labels, scores = scored
    pos, neg = scores[0, labels == 1], scores[0, labels == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    # Resample images; the AUC of a resample weights psi by how often each image was drawn.
    indices = np.random.default_rng(0).integers(0, labels.size, size=(4000, labels.size))
    counts = np.stack([np.bincount(row, minlength=labels.size) for row in indices]).astype(float)
    count_pos, count_neg = counts[:, labels == 1], counts[:, labels == 0]
    replicates = np.einsum("bi,ij,bj->b", count_pos, psi, count_neg) / (
        count_pos.sum(axis=1) * count_neg.sum(axis=1)
    )
    _, covariance = paired.delong_covariance(labels, scores[:1])
    assert covariance[0, 0] == pytest.approx(np.var(replicates, ddof=1), rel=0.15)


def test_delong_paired_test_equals_brute_force_z_test(scored):
    labels, scores = scored
    theta, _, _, s = _brute_force_delong(labels, scores)
    z = (theta[0] - theta[1]) / np.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    result = paired.delong_test(labels, scores[0], scores[1], confidence=0.95)
    assert result.statistic == pytest.approx(z, rel=1e-10)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-10)
    assert result.difference == pytest.approx(theta[0] - theta[1])
    half_width = 1.959964 * (theta[0] - theta[1]) / z
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (result.difference - half_width, result.difference + half_width), rel=1e-6
    )


def test_delong_of_identical_rankings_has_p_one(scored):
    labels, scores = scored
    result = paired.delong_test(labels, scores[0], scores[0] ** 2)  # monotone: same ranking
    assert result.difference == 0 and result.p_value == 1.0
    assert "zero variance" in result.note


def test_delong_interval_is_the_clipped_wald_interval(scored):
    labels, scores = scored
    theta, _, _, s = _brute_force_delong(labels, scores[:1])
    low, high = paired.delong_interval(labels, scores[0], confidence=0.9)
    half_width = stats.norm.ppf(0.95) * np.sqrt(s[0, 0])
    assert (low, high) == pytest.approx((theta[0] - half_width, min(1.0, theta[0] + half_width)))


def test_delong_auc_is_the_mann_whitney_u_statistic(scored):
    labels, scores = scored
    aucs, _ = paired.delong_covariance(labels, scores)
    for auc, row in zip(aucs, scores, strict=True):
        u = stats.mannwhitneyu(row[labels == 1], row[labels == 0]).statistic
        assert auc == pytest.approx(u / (np.sum(labels == 1) * np.sum(labels == 0)), rel=1e-12)


def test_delong_auc_matches_hanley_and_mcneil_1982_rating_example():
    """Hanley & McNeil (1982), Radiology 143:29, Table 1: five-point ratings of 58 normal and 51 abnormal
    CT images; the Wilcoxon area is 0.893.  (Their SE, 0.032, uses their exponential approximation,
    not DeLong's variance, so only the area is compared.)"""
    normal = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    abnormal = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    labels = np.r_[np.zeros(58), np.ones(51)].astype(int)
    aucs, _ = paired.delong_covariance(labels, np.r_[normal, abnormal][None, :].astype(float))
    assert aucs[0] == pytest.approx(0.893, abs=5e-4)


def test_delong_needs_two_images_of_each_class():
    with pytest.raises(ValueError, match="at least 2 images of each class, got 1 with label 1"):
        paired.delong_covariance(np.array([1, 0, 0, 0]), np.array([[0.9, 0.1, 0.2, 0.3]]))


def test_bootstrap_p_value_counts_the_smaller_tail():
    # 3 of 999 replicates at or below zero: p = 2 * (3 + 1) / (999 + 1)
    differences = np.r_[[-0.2, -0.1, 0.0], np.linspace(0.01, 0.5, 996)]
    assert paired.bootstrap_p_value(differences).p_value == pytest.approx(0.008)


def test_bootstrap_p_value_of_all_zero_differences_is_one():
    assert paired.bootstrap_p_value(np.zeros(100)).p_value == 1.0


def test_bootstrap_p_value_drops_and_reports_nan_replicates():
    result = paired.bootstrap_p_value(np.r_[np.full(99, 0.1), [np.nan]])
    assert result.p_value == pytest.approx(2 / 100)
    assert result.note == "1 of 100 bootstrap replicates undefined and dropped"


def test_wilcoxon_matches_scipy_with_pratt_zero_handling():
    rng = np.random.default_rng(9)
    reference = rng.uniform(0, 1, 60)
    variant = reference + rng.normal(0.05, 0.1, 60)
    variant[:7] = reference[:7]  # zero differences
    result = paired.wilcoxon_test(variant, reference, zero_method="pratt")
    expected = stats.wilcoxon(variant - reference, zero_method="pratt")
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.note == "7 of 60 differences are zero (pratt)"


def test_wilcoxon_zsplit_option_matches_scipy():
    rng = np.random.default_rng(10)
    reference = rng.uniform(0, 1, 30)
    variant = np.where(np.arange(30) < 4, reference, reference + rng.normal(0, 0.1, 30))
    result = paired.wilcoxon_test(variant, reference, zero_method="zsplit")
    assert result.p_value == pytest.approx(stats.wilcoxon(variant, reference, zero_method="zsplit").pvalue)


def test_rank_biserial_matches_a_hand_computation():
    """d = 3, -1, 2, 0, 5, -4.  pratt ranks |d| with the zero: 0->1, 1->2, 2->3, 3->4, 4->5, 5->6;
    R+ = 4 + 3 + 6 = 13, R- = 2 + 5 = 7, r = 6 / 20.  wilcox drops the zero first: ranks 1..5 with
    R+ = 3 + 2 + 5 = 10, R- = 1 + 4 = 5, r = 5 / 15.  zsplit: pratt's sums with R0 = 1 in the total."""
    differences = np.array([3.0, -1.0, 2.0, 0.0, 5.0, -4.0])
    assert paired.rank_biserial(differences, zero_method="pratt") == pytest.approx(6 / 20)
    assert paired.rank_biserial(differences, zero_method="wilcox") == pytest.approx(5 / 15)
    assert paired.rank_biserial(differences, zero_method="zsplit") == pytest.approx(6 / 21)


def test_rank_biserial_equals_the_wilcoxon_statistic_rescaled():
    """Without zeros or ties r = 4 T+ / (n (n + 1)) - 1, T+ scipy's signed-rank sum of positive ranks."""
    rng = np.random.default_rng(4)
    variant, reference = rng.normal(0.3, 1, 30), rng.normal(0, 1, 30)
    positive_sum = stats.wilcoxon(variant, reference, alternative="greater").statistic
    result = paired.wilcoxon_test(variant, reference)
    assert result.effect_size == pytest.approx(4 * positive_sum / (30 * 31) - 1, rel=1e-12)
    assert result.method == "pratt"


def test_wilcoxon_of_identical_values_has_p_one():
    values = np.linspace(0, 1, 12)
    result = paired.wilcoxon_test(values, values.copy())
    assert result.p_value == 1.0 and result.note == "all 12 differences are zero"


def test_wilcoxon_rejects_unknown_zero_method():
    with pytest.raises(ValueError, match="zero_method"):
        paired.wilcoxon_test(np.ones(3), np.zeros(3), zero_method="drop")
