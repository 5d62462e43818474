"""Holm and Benjamini-Hochberg adjustments against statsmodels and the published examples."""

import gc

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from benchmark.stats.multiplicity import adjust, adjust_families, frozen_heap

# Benjamini & Hochberg (1995), section 4: the 15 p-values of the myocardial-infarction example.
BH_1995 = np.array(
    [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719]
    + [0.6528, 0.7590, 1.0000]
)
HAND_MADE = [
    [0.01, 0.04, 0.04, 1.0, 0.03, 0.01],  # ties and a one
    [0.5],
    [0.001, 0.2],
    [0.049, 0.049, 0.049, 0.049],
]


@pytest.mark.parametrize("method, statsmodels_name", [("holm", "holm"), ("bh", "fdr_bh")])
@pytest.mark.parametrize("p_values", [*HAND_MADE, BH_1995, np.random.default_rng(3).random(17) ** 3])
def test_adjust_matches_statsmodels_multipletests(p_values, method, statsmodels_name):
    expected = multipletests(np.asarray(p_values), method=statsmodels_name)[1]
    np.testing.assert_allclose(adjust(p_values, method), expected, rtol=0, atol=1e-15)


def test_benjamini_hochberg_1995_example_rejects_four_and_holm_three():
    """The paper: at 0.05 the FDR procedure rejects the four smallest p-values, Bonferroni three."""
    assert np.sum(adjust(BH_1995, "bh") <= 0.05) == 4
    assert np.sum(adjust(BH_1995, "holm") <= 0.05) == 3


def test_holm_published_example():
    """Holm's step-down by hand: p = 0.01, 0.04, 0.03, 0.005 -> 4*0.005, 3*0.01, max(2*0.03, .), 0.06."""
    np.testing.assert_allclose(adjust([0.01, 0.04, 0.03, 0.005], "holm"), [0.03, 0.06, 0.06, 0.02])


def test_adjust_families_adjusts_each_family_alone_and_skips_nan():
    tests = pd.DataFrame(
        {
            "family": ["a", "a", "a", "b", "b", "b"],
            "p_value": [0.01, 0.04, np.nan, 0.03, 0.2, 0.001],
        }
    )
    adjusted = adjust_families(tests, ["family"], {"holm": "holm", "bh": "bh"})
    for rows in ([0, 1], [3, 4, 5]):
        p = tests.loc[rows, "p_value"].to_numpy()
        np.testing.assert_allclose(adjusted.loc[rows, "holm"], multipletests(p, method="holm")[1])
        np.testing.assert_allclose(adjusted.loc[rows, "bh"], multipletests(p, method="fdr_bh")[1])
    assert np.isnan(adjusted.loc[2, "holm"]) and np.isnan(adjusted.loc[2, "bh"])
    assert "holm" not in tests.columns  # the input is not modified


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="Expected method in \\['bh', 'holm'\\], got 'bonferroni'"):
        adjust([0.1], "bonferroni")


def test_frozen_heap_is_undone_after_the_block():
    before = gc.get_freeze_count()
    with frozen_heap():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == before
