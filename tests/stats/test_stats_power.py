"""Power of McNemar and AUROC comparisons, checked against brute force and simulation."""

import json

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from benchmark.commands.cli import main
from benchmark.stats import power


def _enumerated_power(n, discordant, difference, alpha, pvalue):
    """Brute force: every (d, b) outcome, its probability and the test's p-value."""
    from scipy import stats

    share = (discordant + difference) / 2 / discordant
    total = 0.0
    for d in range(1, n + 1):
        for b in range(d + 1):
            if pvalue(b, d - b) <= alpha:
                total += stats.binom.pmf(d, n, discordant) * stats.binom.pmf(b, d, share)
    return total


def test_exact_power_equals_brute_force_enumeration_with_statsmodels_mcnemar():
    n, discordant, difference = 40, 0.3, 0.15

    def exact_p(b, c):
        return mcnemar([[0, b], [c, 0]], exact=True).pvalue

    expected = _enumerated_power(n, discordant, difference, 0.05, exact_p)
    assert power.mcnemar_power_exact(n, discordant, difference) == pytest.approx(expected, abs=1e-12)


def test_exact_power_agrees_with_a_simulation_of_the_benchmarks_mcnemar():
    from benchmark.stats.paired import mcnemar_test

    n, discordant, difference, runs = 150, 0.2, 0.08, 1500
    rng = np.random.default_rng(0)
    rejected = 0
    for _ in range(runs):
        outcome = rng.choice(
            4, size=n, p=[0.7, (discordant + difference) / 2, (discordant - difference) / 2, 0.1]
        )
        variant = (outcome == 0) | (outcome == 1)
        reference = (outcome == 0) | (outcome == 2)
        rejected += mcnemar_test(variant, reference).p_value <= 0.05
    exact = power.mcnemar_power_exact(n, discordant, difference, test="benchmark")
    standard_error = np.sqrt(exact * (1 - exact) / runs)
    assert abs(rejected / runs - exact) < 4 * standard_error


def test_connor_approximates_the_enumerated_power_of_the_uncorrected_chi_square_test():
    # Connor's formula is the normal approximation of the unconditional, uncorrected McNemar z-test.
    for n, discordant, difference in [(624, 0.10, 0.03), (300, 0.2, 0.06), (1000, 0.05, 0.02)]:
        enumerated = power.mcnemar_power_exact(n, discordant, difference, test="chi2")
        assert power.mcnemar_power_connor(n, discordant, difference) == pytest.approx(enumerated, abs=0.015)


def test_connor_sample_size_is_the_least_n_with_connor_power_at_target():
    n = power.mcnemar_n_connor(0.10, 0.03, power=0.8)
    assert power.mcnemar_power_connor(n, 0.10, 0.03) >= 0.8 > power.mcnemar_power_connor(n - 1, 0.10, 0.03)


def test_exact_sample_size_reaches_the_target_and_one_less_does_not():
    n = power.mcnemar_n_exact(0.2, 0.1, power=0.8)
    assert power.mcnemar_power_exact(n, 0.2, 0.1) >= 0.8 > power.mcnemar_power_exact(n - 1, 0.2, 0.1)


def test_hanley_mcneil_variance_matches_simulation_of_its_exponential_model():
    # Q1 and Q2 are exact when scores are exponential (Hanley & McNeil 1982), so the formula is the
    # true variance of the AUROC there: check it against simulated AUROCs.
    from benchmark.metrics.classification import auroc

    rng = np.random.default_rng(1)
    area, positives, negatives, runs = 0.85, 30, 20, 3000
    labels = np.r_[np.ones(positives), np.zeros(negatives)]
    values = []
    for _ in range(runs):
        scores = np.r_[rng.exponential(1 / ((1 - area) / area), positives), rng.exponential(1.0, negatives)]
        values.append(auroc(labels, scores / scores.max()))
    expected = power.hanley_mcneil_variance(area, positives, negatives)
    assert np.var(values, ddof=1) == pytest.approx(expected, rel=0.08)


def test_auroc_power_at_zero_correlation_is_the_z_test_power_of_independent_variances():
    from scipy import stats

    v1 = power.hanley_mcneil_variance(0.9, 100, 80)
    v2 = power.hanley_mcneil_variance(0.85, 100, 80)
    z = 0.05 / np.sqrt(v1 + v2)
    expected = stats.norm.cdf(z - 1.959963984540054) + stats.norm.cdf(-z - 1.959963984540054)
    assert power.auroc_power(0.9, 0.05, 100, 80, correlation=0.0) == pytest.approx(expected, rel=1e-12)
    n = power.auroc_n(0.9, 0.05, prevalence=0.5, correlation=0.0)
    assert power.auroc_power(0.9, 0.05, round(n / 2), n - round(n / 2), correlation=0.0) >= 0.8


def test_power_cli_gives_the_issues_figures(capsys):
    assert main(["power", "--n", "624", "--discordant", "0.10", "--difference", "0.03", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mcnemar"]["power_exact"] == pytest.approx(0.62, abs=0.005)
    assert result["mcnemar"]["power_connor"] == pytest.approx(0.66, abs=0.005)


def test_power_cli_solves_for_n_and_refuses_both_or_neither(capsys):
    assert main(["power", "--power", "0.8", "--discordant", "0.10", "--difference", "0.03", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mcnemar"]["n_connor"] == power.mcnemar_n_connor(0.10, 0.03)
    assert main(["power", "--n", "10", "--power", "0.8"]) == 2
    assert main(["power", "--n", "100", "--discordant", "0.02", "--difference", "0.05"]) == 2


def test_analyze_power_table_is_connors_detectable_difference_at_the_observed_discordance():
    import pandas as pd

    from benchmark.stats.analysis import analyze
    from tests.stats.test_stats_analysis import make_predictions

    predictions = make_predictions(cells=("x2",))
    empty = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])
    row = analyze(empty, predictions, n_bootstrap=100)["power"].set_index("variant").loc["LR"]
    wide = predictions.pivot(index="image_id", columns="variant", values="prob")
    labels = predictions[predictions["variant"] == "HR"].set_index("image_id")["label"].reindex(wide.index)
    discordant = np.mean(((wide["LR"] >= 0.5) == labels) != ((wide["HR"] >= 0.5) == labels))
    assert row["discordant_fraction"] == pytest.approx(discordant)
    assert power.mcnemar_power_connor(row["n"], discordant, row["detectable_difference"]) == pytest.approx(
        0.8
    )


def _full_enumeration(n, discordant, difference, alpha, test):
    """Every discordant count 0..n and every split of it, the p-value from scipy per outcome."""
    from scipy import stats

    share = (discordant + difference) / 2 / discordant
    total = 0.0
    for d in range(1, n + 1):
        b = np.arange(d + 1)
        c = d - b
        if test == "exact":
            p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), d, 0.5))
        else:
            p = stats.chi2.sf(np.maximum(np.abs(b - c) - (test == "chi2-continuity"), 0.0) ** 2 / d, 1)
        total += stats.binom.pmf(d, n, discordant) * stats.binom.pmf(b, d, share)[p <= alpha].sum()
    return total


@pytest.mark.parametrize("test", ["exact", "chi2", "chi2-continuity"])
@pytest.mark.parametrize(
    ("n", "discordant", "difference", "alpha"), [(1500, 0.1, 0.03, 0.05), (700, 0.4, -0.05, 0.01)]
)
def test_exact_power_over_its_window_equals_the_full_enumeration(test, n, discordant, difference, alpha):
    """The sums leave out discordant counts beyond 1e-17 per tail and find each rejection boundary
    from a closed form: neither moves the power."""
    expected = _full_enumeration(n, discordant, difference, alpha, test)
    got = power.mcnemar_power_exact(n, discordant, difference, alpha=alpha, test=test)
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "argv",
    [
        ["--n", "1000000000", "--discordant", "0.1", "--difference", "0.03", "--auroc", "0.9"],
        ["--difference", "0.0001", "--power", "0.99", "--auroc", "0.9"],
        ["--n", "1000000000000", "--discordant", "0.5", "--difference", "0.01"],
        ["--difference", "0.003", "--power", "0.9", "--discordant", "0.3"],
    ],
)
def test_power_answers_in_under_a_second_and_says_when_it_is_approximate(argv, capsys):
    """Before: --n 1e9 gave no answer in 60 s and grew to 8 GB; --difference 0.0001 --power 0.99 looped
    for minutes."""
    import time

    start = time.perf_counter()
    assert main(["power", *argv, "--json"]) == 0
    assert time.perf_counter() - start < 1.0
    result = json.loads(capsys.readouterr().out)["mcnemar"]
    assert "normal approximation" in result["note"]
    assert not {"power_exact", "n_exact"} & set(result)
    assert main(["power", *argv]) == 0
    assert "note: exact" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n", "10000000000000"], "Expected n to be an int from 1 to 1e\\+12"),
        (["--n", "0"], "Expected n to be an int from 1 to 1e\\+12"),
        (["--n", "624", "--alpha", "0.9"], "Expected alpha from 1e-12 to 0.5"),
        (["--power", "0.99", "--difference", "1e-7", "--discordant", "0.5"], "needs about 9.2e\\+14 images"),
        (["--power", "0.8", "--difference", "0"], "Expected a non-zero difference"),
        (["--n", "624", "--discordant", "nan"], "discordant proportion in \\(0, 1\\]"),
    ],
)
def test_absurd_power_inputs_are_refused_in_one_line(argv, message, capsys):
    assert main(["power", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert __import__("re").search(message, err), err
