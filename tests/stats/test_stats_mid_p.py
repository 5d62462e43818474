"""McNemar's mid-p test: the published worked example, an independent enumeration, and its rows."""

from fractions import Fraction
from math import comb

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from benchmark.stats import cell_tests
from benchmark.stats.analysis import analyze
from benchmark.stats.paired import mcnemar_mid_p
from benchmark.stats.vocabulary import PAIRED_TEST_TEXT
from reports.methods import _statistics
from tests.stats.test_stats_analysis import make_predictions

EMPTY_QUALITY = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])


def _enumerated_mid_p(b: int, c: int) -> Fraction:
    """Two-sided mid-p by enumerating Binomial(b + c, 1/2) with exact integers: the probability of a
    split less likely than the observed one plus half that of the splits as likely."""
    n = b + c
    observed = comb(n, b)
    less = sum(comb(n, k) for k in range(n + 1) if comb(n, k) < observed)
    tied = sum(comb(n, k) for k in range(n + 1) if comb(n, k) == observed)
    return Fraction(2 * less + tied, 2 * 2**n)


def test_published_example_of_fagerland_lydersen_and_laake_2013():
    # Their Table 1 (Bentur et al. 2009, 21 children): 1 and 7 discordant pairs.  The paper reports the
    # mid-p test at p = 0.039 and the exact conditional test at 0.070.  By hand, with 8 discordant pairs:
    # exact = 2 * P(X <= 1) = 2 * (1 + 8) / 256 = 18/256, mid-p = exact - P(X = 1) = 18/256 - 8/256.
    result = mcnemar_mid_p(1, 7)
    assert round(result.p_value, 3) == 0.039
    assert result.p_value == pytest.approx(10 / 256, rel=1e-12)
    exact = mcnemar([[1, 1], [7, 12]], exact=True).pvalue
    assert round(exact, 3) == 0.070
    assert exact - result.p_value == pytest.approx(stats.binom.pmf(1, 8, 0.5))
    assert result.statistic == 1 and result.method == "mid-p-binomial"


@pytest.mark.parametrize("n", [1, 2, 5, 8, 13, 24, 25, 40])
def test_matches_an_exact_enumeration_for_every_split(n):
    for b in range(n + 1):
        assert mcnemar_mid_p(b, n - b).p_value == pytest.approx(float(_enumerated_mid_p(b, n - b)), rel=1e-9)


def test_equal_split_follows_the_papers_definition_and_no_discordant_pair_is_p_one():
    assert mcnemar_mid_p(3, 3).p_value == pytest.approx(1 - stats.binom.pmf(3, 6, 0.5) / 2)
    none = mcnemar_mid_p(0, 0)
    assert none.p_value == 1.0 and none.note == "no discordant pairs"
    with pytest.raises(ValueError, match="non-negative"):
        mcnemar_mid_p(-1, 2)


def test_large_counts_approach_the_uncorrected_chi_square():
    # mid-p behaves like McNemar's test without continuity correction when counts are large
    asymptotic = mcnemar([[0, 400], [460, 0]], exact=False, correction=False).pvalue
    assert mcnemar_mid_p(400, 460).p_value == pytest.approx(asymptotic, rel=0.02)


@pytest.fixture(scope="module")
def paired_tests():
    return analyze(EMPTY_QUALITY, make_predictions(cells=("x2",)), n_bootstrap=100)["paired_tests"]


def test_rows_use_the_mcnemar_rows_counts_and_are_supplementary(paired_tests):
    mid_p = paired_tests[paired_tests["test"] == "mcnemar-midp"]
    mcnemar_rows = paired_tests[paired_tests["test"] == "mcnemar"]
    keys = ["variant", "reference", "metric"]
    joined = mid_p.merge(mcnemar_rows, on=keys, suffixes=("", "_mcnemar"))
    assert len(joined) == len(mid_p) == len(mcnemar_rows) > 0
    assert set(mid_p["family"]) == {"supplementary"}
    for column in ("only_variant_correct", "only_reference_correct", "difference", "ci_low", "ci_high", "n"):
        np.testing.assert_array_equal(joined[column], joined[f"{column}_mcnemar"])
    for row in joined.itertuples():
        b, c = int(row.only_variant_correct), int(row.only_reference_correct)
        assert row.p_value == pytest.approx(float(_enumerated_mid_p(b, c)), rel=1e-9)
        if row.method_mcnemar == "exact-binomial":
            assert row.p_value <= row.p_value_mcnemar  # never more conservative than the exact test


def test_adding_the_test_changes_no_other_row(paired_tests, monkeypatch):
    without = tuple(test for test in cell_tests.PAIRED_TESTS if test.name != "mcnemar-midp")
    monkeypatch.setattr(cell_tests, "PAIRED_TESTS", without)
    before = analyze(EMPTY_QUALITY, make_predictions(cells=("x2",)), n_bootstrap=100)["paired_tests"]
    after = paired_tests[paired_tests["test"] != "mcnemar-midp"].reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_clustered_rows_need_independent_discordant_pairs():
    labels = np.r_[np.zeros(10), np.ones(10)].astype(int)
    hr = np.where(labels == 1, 0.8, 0.2)
    rows = []
    for flipped, name in (([0, 12], "apart"), ([0, 1], "together")):  # patients hold images 2k, 2k+1
        sr = hr.copy()
        sr[flipped] = 1 - sr[flipped]
        rows += [
            {"cell": name, "variant": v, "image_id": f"i{i}", "label": int(labels[i]), "prob": float(p[i])}
            for v, p in (("HR", hr), ("sr", sr))
            for i in range(20)
        ]
    clusters = {f"i{i}": f"p{i // 2}" for i in range(20)}
    tests = analyze(EMPTY_QUALITY, pd.DataFrame(rows), n_bootstrap=100, clusters=clusters)["paired_tests"]
    rows = tests[(tests["test"] == "mcnemar-midp") & (tests["metric"] == "accuracy")].set_index("cell")
    assert rows.loc["apart", "method"] == "cluster-mid-p-binomial"
    assert rows.loc["apart", "p_value"] == pytest.approx(float(_enumerated_mid_p(0, 2)))
    assert "at most one discordant image per patient" in rows.loc["apart", "note"]
    assert np.isnan(rows.loc["together", "p_value"])
    assert "pairs not independent" in rows.loc["together", "note"]


def test_methods_paragraph_names_the_test_from_the_vocabulary(paired_tests):
    tables = {"paired_tests": paired_tests.to_dict("records")}
    assert PAIRED_TEST_TEXT["mcnemar-midp"] in _statistics({"stats": {"confidence": 0.95}}, tables)
    tables = {"paired_tests": paired_tests[paired_tests["test"] != "mcnemar-midp"].to_dict("records")}
    assert PAIRED_TEST_TEXT["mcnemar-midp"] not in _statistics({"stats": {"confidence": 0.95}}, tables)
