"""Confidence intervals against published values, statsmodels and order-statistic tables."""

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from benchmark.stats import intervals


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score).
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_interval_matches_newcombe_1998(successes, n, low, high):
    result = intervals.wilson_interval(successes, n, confidence=0.95)
    assert result == pytest.approx((low, high), abs=6e-5)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError, match="successes=5, n=3"):
        intervals.wilson_interval(5, 3)


def test_percentile_interval_ignores_nan_replicates():
    replicates = np.r_[np.arange(1001.0), [np.nan] * 7]
    assert intervals.percentile_interval(replicates, confidence=0.9) == pytest.approx((50.0, 950.0))


def test_median_interval_uses_the_tabled_order_statistics():
    # For n = 20 the distribution-free 95% interval of the median is (x(6), x(15)) (coverage 95.9%).
    values = np.random.default_rng(8).permutation(np.arange(1.0, 21.0)) ** 2
    assert intervals.median_interval(values, confidence=0.95) == pytest.approx((36.0, 225.0))


def test_normal_interval_uses_the_two_sided_quantile():
    assert intervals.normal_interval(0.0, 1.0, confidence=0.95) == pytest.approx((-1.959964, 1.959964))


def test_bootstrap_weights_are_counts_of_n_draws():
    weights = intervals.bootstrap_weights(50, 300, np.random.default_rng(0))
    assert weights.shape == (300, 50)
    np.testing.assert_array_equal(weights.sum(axis=1), 50)
    assert weights.mean() == pytest.approx(1.0)
    # P(an image is never drawn) = (1 - 1/n)^n, about 0.364 for n = 50
    assert np.mean(weights == 0) == pytest.approx((1 - 1 / 50) ** 50, abs=0.02)


def test_bootstrap_weights_are_reproducible_from_the_generator_seed():
    first = intervals.bootstrap_weights(20, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(first, intervals.bootstrap_weights(20, 10, np.random.default_rng(3)))


@pytest.mark.parametrize("confidence", [0, 1, 95, -0.5])
def test_confidence_outside_zero_one_is_rejected(confidence):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        intervals.check_confidence(confidence)


def test_stratified_bootstrap_weights_resample_each_class_within_itself():
    labels = np.r_[np.zeros(30), np.ones(12)].astype(int)
    weights = intervals.stratified_bootstrap_weights(labels, 200, np.random.default_rng(1))
    assert weights.shape == (200, 42)
    np.testing.assert_array_equal(weights[:, labels == 0].sum(axis=1), 30)
    np.testing.assert_array_equal(weights[:, labels == 1].sum(axis=1), 12)
    assert weights[:, labels == 1].mean() == pytest.approx(1.0)


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """The Student-t interval the quality means used to get (statsmodels)."""
    return DescrStatsW(values).tconfint_mean(alpha=0.05)


# Per-image values near a bound, as the suite measures them: Grad-CAM Pearson r with identical maps
# (exactly 1), SSIM of nearly perfect reconstructions, MSE of nearly identical images.
NEAR_BOUND = {
    "gradcam_pearson": (np.r_[[1.0] * 4, 0.99, 0.98, 0.97, 0.95, 0.93, 0.9, 0.45], "high", 1.0),
    "ssim": (np.r_[0.999, 0.998, 0.997, 0.995, 0.99, 0.985, 0.97, 0.8], "high", 1.0),
    "mse": (np.r_[1e-5, 2e-5, 2e-5, 5e-5, 1e-4, 2e-4, 4e-4, 3e-3], "low", 0.0),
}


@pytest.mark.parametrize("metric", sorted(NEAR_BOUND))
def test_mean_interval_of_values_near_a_bound_stays_within_it_where_the_t_interval_did_not(metric):
    values, side, bound = NEAR_BOUND[metric]
    t_low, t_high = _t_interval(values)
    assert (t_high > bound) if side == "high" else (t_low < bound)  # the old interval left the range
    weights = intervals.bootstrap_weights(values.size, 2000, np.random.default_rng(0))
    [(low, high)] = intervals.bootstrap_mean_intervals(values[:, None], weights)
    assert values.min() <= low < values.mean() < high <= values.max()
    assert (high <= bound) if side == "high" else (low >= bound)


def test_mean_interval_matches_scipy_percentile_bootstrap_at_the_expanded_level():
    values = 1 - np.random.default_rng(5).beta(1, 20, 40)  # skewed towards the bound 1
    level = intervals.expanded_confidence(0.95, values.size)
    reference = stats.bootstrap(
        (values,), np.mean, n_resamples=20_000, method="percentile", confidence_level=level, random_state=1
    ).confidence_interval
    weights = intervals.bootstrap_weights(values.size, 20_000, np.random.default_rng(2))
    [interval] = intervals.bootstrap_mean_intervals(values[:, None], weights)
    # Monte-Carlo error of each bound: about 0.02 standard errors of the mean with 20,000 resamples
    tolerance = 0.1 * values.std(ddof=1) / np.sqrt(values.size)
    assert interval == pytest.approx((reference.low, reference.high), abs=tolerance)


@pytest.mark.parametrize("n", [12, 40, 100])
def test_expanded_interval_of_symmetric_values_matches_the_t_interval(n):
    # The expanded level is defined so that, for symmetric data, the percentile interval has the
    # t-interval's width (plain percentile: too narrow by about t / (z * sqrt((n-1)/n))); roughly: below
    # about 10 values the bootstrap means are too discrete for its tails (n = 5: 7 % narrower).
    values = stats.norm.ppf((np.arange(n) + 0.5) / n)  # symmetric about 0
    weights = intervals.bootstrap_weights(n, 40_000, np.random.default_rng(3))
    [(low, high)] = intervals.bootstrap_mean_intervals(values[:, None], weights)
    t_low, t_high = _t_interval(values)
    assert high - low == pytest.approx(t_high - t_low, rel=0.06)
    assert (low + high) / 2 == pytest.approx(0.0, abs=0.03 * (t_high - t_low))


def test_bootstrap_means_leave_out_non_finite_values_and_pair_the_columns():
    values = np.array([[1.0, np.inf], [2.0, 5.0], [3.0, np.nan], [6.0, 7.0]])
    weights = np.array([[2.0, 1.0, 1.0, 0.0], [0.0, 0.0, 4.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    means = intervals.bootstrap_means(values, weights)
    expected = [[(2 + 2 + 3) / 4, 5.0], [3.0, np.nan], [3.0, 6.0]]
    np.testing.assert_allclose(means, expected)


def test_mean_interval_is_nan_below_two_values_and_reproducible_from_the_seed():
    values = np.array([[0.5, np.inf], [0.7, 2.0], [0.9, np.inf]])
    first = intervals.bootstrap_mean_intervals(
        values, intervals.bootstrap_weights(3, 500, np.random.default_rng(7))
    )
    again = intervals.bootstrap_mean_intervals(
        values, intervals.bootstrap_weights(3, 500, np.random.default_rng(7))
    )
    assert first[0] == again[0] and 0.5 <= first[0][0] < first[0][1] <= 0.9
    assert all(np.isnan(first[1]))


def _scipy_resample_counts(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """The resamples scipy.stats.bootstrap draws with ``random_state=default_rng(seed)`` (one batch:
    ``rng.integers(0, n, (n_resamples, n))``), as count rows."""
    positions = np.random.default_rng(seed).integers(0, n, (n_resamples, n))
    return np.stack([np.bincount(row, minlength=n) for row in positions]).astype(float)


@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_bca_equals_scipy_bootstrap_bca_on_the_same_resamples(confidence):
    """Unclustered (one image per patient): BCa of the AUROC of (label, score) pairs, resampled as
    pairs, equals scipy.stats.bootstrap(method="BCa", paired=True) given the same resamples."""
    from sklearn.metrics import roc_auc_score

    from benchmark.metrics.classification import auroc

    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(30), np.ones(30)].astype(int)
    latent = rng.normal(0, 1, 60) + 0.8 * labels + rng.exponential(0.5, 60) * labels  # skewed
    scores = 1 / (1 + np.exp(-latent))
    counts = _scipy_resample_counts(60, 3000, seed=9)
    result = stats.bootstrap(
        (labels, scores),
        lambda y, s: roc_auc_score(y, s),
        paired=True,
        vectorized=False,
        n_resamples=3000,
        method="BCa",
        confidence_level=confidence,
        random_state=np.random.default_rng(9),
    )
    replicates = auroc(labels, scores, weights=counts)
    assert np.sort(replicates) == pytest.approx(np.sort(result.bootstrap_distribution), abs=1e-12)
    jackknife = auroc(labels, scores, weights=intervals.jackknife_weights(60))
    ours = intervals.bca_interval(replicates, auroc(labels, scores), jackknife, confidence=confidence)
    interval = result.confidence_interval
    assert ours == pytest.approx((interval.low, interval.high), rel=1e-10)
    assert ours != pytest.approx(intervals.percentile_interval(replicates, confidence=confidence), rel=1e-4)


def test_bca_of_a_skewed_mean_equals_scipy():
    values = np.random.default_rng(0).exponential(size=25)
    counts = _scipy_resample_counts(25, 2000, seed=5)
    result = stats.bootstrap(
        (values,), np.mean, n_resamples=2000, method="BCa", random_state=np.random.default_rng(5)
    )
    ours = intervals.bca_interval(
        counts @ values / 25, values.mean(), intervals.jackknife_weights(25) @ values / 24
    )
    assert ours == pytest.approx(tuple(result.confidence_interval), rel=1e-12)


def test_cluster_jackknife_rows_leave_out_whole_patients_and_equal_image_rows_for_singletons():
    rows = intervals.jackknife_weights(5, np.array(["b", "a", "b", "c", "a"]))
    assert rows.shape == (3, 5)
    assert sorted(map(tuple, rows)) == sorted([(1, 0, 1, 1, 0), (0, 1, 0, 1, 1), (1, 1, 1, 0, 1)])
    singletons = intervals.jackknife_weights(4, np.array(["p3", "p0", "p2", "p1"]))
    assert sorted(map(tuple, singletons)) == sorted(map(tuple, intervals.jackknife_weights(4)))


def test_bca_p_value_is_dual_to_the_bca_interval_and_reduces_to_the_percentile_p():
    from benchmark.stats.paired import bootstrap_p_value

    rng = np.random.default_rng(4)
    values = rng.exponential(size=40) - 0.8
    counts = rng.multinomial(40, np.full(40, 1 / 40), size=4000).astype(float)
    replicates, jackknife = counts @ values / 40, intervals.jackknife_weights(40) @ values / 39
    p = intervals.bca_p_value(replicates, values.mean(), jackknife)
    assert 0.001 < p < 0.5
    low, high = intervals.bca_interval(replicates, values.mean(), jackknife, confidence=1 - p)
    assert min(abs(low), abs(high)) < 0.01 * (high - low)  # a bound at 0 (up to the +1 and quantiles)
    symmetric = np.r_[replicates, 2 * np.median(replicates) - replicates]  # z0 = 0 at the median
    flat = np.zeros(40)  # a = 0
    assert intervals.bca_p_value(symmetric, np.median(replicates), flat) == pytest.approx(
        bootstrap_p_value(symmetric).p_value, rel=1e-9
    )


def test_bca_is_nan_when_the_estimate_lies_outside_every_replicate():
    assert np.isnan(intervals.bca_interval(np.arange(1.0, 11.0), 0.5, np.arange(5.0))).all()
