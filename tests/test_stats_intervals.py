"""Confidence intervals against published values, statsmodels and order-statistic tables."""

import numpy as np
import pytest
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


def test_t_interval_matches_statsmodels():
    values = np.random.default_rng(4).normal(2.0, 0.5, 37)
    expected = DescrStatsW(values).tconfint_mean(alpha=0.1)
    assert intervals.t_interval(values, confidence=0.9) == pytest.approx(expected, rel=1e-12)


def test_t_interval_of_one_value_is_nan():
    assert all(np.isnan(intervals.t_interval(np.array([1.0]))))


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
