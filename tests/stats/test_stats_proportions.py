"""Wilson (with design effect) and Newcombe's paired interval against statsmodels and a worked example."""

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

from benchmark.stats import proportions


def test_newcombe_reproduces_the_published_worked_example():
    # Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables, ch. 8: Cavo et al.
    # (2012), complete response before/after consolidation, table [[59, 6], [16, 80]]: Newcombe's
    # square-and-add (1998, method 10) interval, estimate -0.0621, 95% CI -0.1186 to -0.0046.
    low, high = proportions.newcombe_paired_interval(59, 6, 16, 80)
    assert (low, high) == pytest.approx((-0.1186, -0.0046), abs=5e-5)


def test_newcombe_inverted_p_value_is_dual_to_the_interval():
    rng = np.random.default_rng(0)
    for _ in range(200):
        table = rng.integers(0, 30, 4)
        if table.sum() == 0:
            continue
        shift = rng.uniform(-0.3, 0.1)
        low, _ = proportions.newcombe_paired_interval(*table, confidence=0.95)
        p = proportions.newcombe_shift_p_value(*table, shift)
        # the one-sided p of H0 (difference <= shift) is below 0.025 exactly when the 95% interval's
        # lower limit lies above shift
        if abs(low - shift) > 1e-9:
            assert (p < 0.025) == (low > shift), (table, shift, low, p)


def test_wilson_without_clusters_is_statsmodels_wilson():
    assert proportions.wilson_interval(7, 30) == pytest.approx(
        proportion_confint(7, 30, alpha=0.05, method="wilson"), rel=1e-12
    )
    assert proportions.wilson_interval(0, 30)[1] > 0  # no zero-width interval at the boundary


def test_design_effect_is_statsmodels_cluster_robust_over_iid_variance_of_the_mean():
    rng = np.random.default_rng(1)
    clusters = np.repeat(np.arange(15), rng.integers(1, 6, 15))
    effect = rng.normal(0, 1, 15)[clusters]
    values = (effect + rng.normal(0, 0.5, clusters.size) > 0).astype(float)
    ones = np.ones((values.size, 1))
    robust = sm.OLS(values, ones).fit(cov_type="cluster", cov_kwds={"groups": clusters}).bse[0] ** 2
    iid = sm.OLS(values, ones).fit().bse[0] ** 2
    assert proportions.design_effect(values, clusters) == pytest.approx(max(1.0, robust / iid), rel=1e-10)
    assert robust / iid > 1.2  # the fixture is clustered: the design effect matters
    assert proportions.design_effect(values, np.arange(values.size)) == 1.0


def test_wilson_with_design_effect_uses_effective_counts():
    assert proportions.wilson_interval(12, 40, deff=2.0) == pytest.approx(
        proportion_confint(6, 20, alpha=0.05, method="wilson"), rel=1e-12
    )
