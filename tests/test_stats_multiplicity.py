import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from benchmark.stats.multiplicity import holm


@pytest.mark.parametrize("size", [1, 2, 5, 17])
def test_holm_matches_statsmodels(size):
    p = np.random.default_rng(size).random(size) ** 3
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)


def test_holm_with_ties_and_ones_matches_statsmodels():
    p = np.array([0.01, 0.04, 0.04, 1.0, 0.03, 0.01])
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)


def test_holm_published_example():
    """Holm (1979)-style worked example: p = 0.01, 0.04, 0.03, 0.005 -> 0.03, 0.06, 0.06, 0.02."""
    np.testing.assert_allclose(holm(np.array([0.01, 0.04, 0.03, 0.005])), [0.03, 0.06, 0.06, 0.02])
