"""Paired tests of two variants evaluated on the same images: McNemar (and its mid-p form), DeLong,
bootstrap, Wilcoxon.

McNemar and Wilcoxon wrap statsmodels/scipy and only add the degenerate cases, the choice between
exact and chi-square McNemar, and Wilcoxon's rank-biserial effect size.  DeLong is hand-written
because neither scipy, statsmodels nor scikit-learn has it; it is the fast mid-rank algorithm of Sun & Xu
(2014), numerically identical to the O(n^2) structural components of DeLong et al. (1988).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

from benchmark.stats.intervals import check_confidence, normal_interval

WILCOXON_ZERO_METHODS = ("pratt", "zsplit", "wilcox")
MCNEMAR_EXACT_BELOW = 25  # discordant pairs; below this the exact binomial test is used
MID_P_METHOD = "mid-p-binomial"


@dataclass(frozen=True)
class PairedResult:
    """Outcome of one paired test; ``note`` explains degenerate cases and is empty otherwise.

    ``method`` names the variant of the test used (e.g. "exact-binomial"); ``effect_size`` is NaN for
    tests without one.
    """

    statistic: float
    p_value: float
    note: str = ""
    method: str = ""
    effect_size: float = float("nan")


@dataclass(frozen=True)
class McNemarResult(PairedResult):
    """McNemar's test with its discordant counts: ``only_variant`` = images only the variant got right."""

    only_variant: int = 0
    only_reference: int = 0


@dataclass(frozen=True)
class DeLongResult:
    """AUROCs of two score sets on the same images, their difference and DeLong's z-test."""

    auc_variant: float
    auc_reference: float
    difference: float
    ci_low: float
    ci_high: float
    statistic: float
    p_value: float
    note: str = ""


def _as_pair(variant: np.ndarray, reference: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    variant, reference = np.asarray(variant), np.asarray(reference)
    if variant.ndim != 1 or variant.shape != reference.shape or variant.size == 0:
        raise ValueError(
            f"Expected two non-empty 1-D arrays of {what} of the same length (one per image), got shapes "
            f"{variant.shape} and {reference.shape}. Align both variants on the same image ids."
        )
    return variant, reference


def mcnemar_test(
    correct_variant: np.ndarray, correct_reference: np.ndarray, *, exact_below: int = MCNEMAR_EXACT_BELOW
) -> McNemarResult:
    """McNemar's test of paired correctness (statsmodels ``mcnemar``).

    Exact binomial test on the discordant pairs when there are fewer than ``exact_below`` of them (the
    chi-square approximation is poor there), else the chi-square test with continuity correction.

    Parameters
    ----------
    correct_variant, correct_reference : (n,) bool arrays, whether each image was classified correctly.

    Returns
    -------
    McNemarResult
        statistic = min(discordant counts) for the exact test (as statsmodels reports it), the
        chi-square value otherwise; ``method`` "exact-binomial" or "chi2-continuity"; with no discordant
        pair the p-value is 1 and the note says so.
    """
    variant, reference = _as_pair(correct_variant, correct_reference, "correctness flags")
    variant, reference = variant.astype(bool), reference.astype(bool)
    only_variant = int(np.sum(variant & ~reference))
    only_reference = int(np.sum(~variant & reference))
    discordant = only_variant + only_reference
    exact = discordant < exact_below
    method = "exact-binomial" if exact else "chi2-continuity"
    if discordant == 0:
        return McNemarResult(0.0, 1.0, "no discordant pairs", method, only_variant=0, only_reference=0)
    both, neither = int(np.sum(variant & reference)), int(np.sum(~variant & ~reference))
    table = [[both, only_variant], [only_reference, neither]]
    result = mcnemar(table, exact=exact, correction=True)
    return McNemarResult(
        float(result.statistic),
        float(result.pvalue),
        method=method,
        only_variant=only_variant,
        only_reference=only_reference,
    )


def mcnemar_mid_p(only_variant: int, only_reference: int) -> PairedResult:
    """McNemar's mid-p test of the discordant counts (Fagerland, Lydersen & Laake 2013, BMC Med Res
    Methodol 13:91): the exact conditional test's two-sided p-value, 2·P(X <= min), less the point
    probability of the observed split, X ~ Binomial(discordant, 1/2); 1 - P(X = b)/2 when b = c, as the
    paper defines it.  It keeps the exact test's use at small counts without its conservatism.

    ``statistic`` is min(b, c), as for the exact test; with no discordant pair the p-value is 1, noted.
    """
    if min(only_variant, only_reference) < 0:
        raise ValueError(f"Expected non-negative discordant counts, got {only_variant}, {only_reference}.")
    discordant, smaller = only_variant + only_reference, min(only_variant, only_reference)
    if discordant == 0:
        return PairedResult(0.0, 1.0, "no discordant pairs", MID_P_METHOD)
    point = float(stats.binom.pmf(smaller, discordant, 0.5))
    if only_variant == only_reference:
        p_value = 1.0 - point / 2
    else:
        p_value = 2 * float(stats.binom.cdf(smaller, discordant, 0.5)) - point
    return PairedResult(float(smaller), p_value, method=MID_P_METHOD)


def delong_components(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUROCs and DeLong structural components of k score sets via mid-ranks (Sun & Xu 2014).

    Parameters
    ----------
    labels : (n,) 0/1 array, at least two images of each class.
    scores : (k, n) array, one row per score set (variant).

    Returns
    -------
    aucs : (k,) AUROC of each row.
    positive_components : (k, m) for each positive image, the fraction of negatives it outscores
        (ties count one half); DeLong's V10.
    negative_components : (k, n - m) for each negative image, the fraction of positives that outscore
        it; DeLong's V01.
    """
    labels = np.asarray(labels)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if labels.ndim != 1 or scores.ndim != 2 or scores.shape[1] != labels.size:
        raise ValueError(
            f"Expected labels (n,) and scores (k, n), got labels {labels.shape} and scores {scores.shape}. "
            "Pass one score per image for every variant."
        )
    if not np.all((labels == 0) | (labels == 1)) or not np.all(np.isfinite(scores)):
        raise ValueError("Expected 0/1 labels and finite scores. Check the predictions table.")
    positive = labels == 1
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos < 2 or n_neg < 2:
        raise ValueError(
            f"DeLong's variance needs at least 2 images of each class, got {n_pos} with label 1 and "
            f"{n_neg} with label 0. Include more images of the rarer class."
        )
    pos_scores, neg_scores = scores[:, positive], scores[:, ~positive]
    rank_pos = stats.rankdata(pos_scores, axis=1)
    rank_neg = stats.rankdata(neg_scores, axis=1)
    rank_all = stats.rankdata(np.concatenate([pos_scores, neg_scores], axis=1), axis=1)
    # A positive's rank among all minus its rank among positives = negatives below it (ties one half).
    positive_components = (rank_all[:, :n_pos] - rank_pos) / n_neg
    negative_components = 1.0 - (rank_all[:, n_pos:] - rank_neg) / n_pos
    aucs = positive_components.mean(axis=1)
    return aucs, positive_components, negative_components


def delong_covariance(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs (k,) and their DeLong covariance matrix (k, k) for k score sets on the same images.

    ``S = S10 / m + S01 / n``, the sample covariances (ddof=1) of the structural components over the
    m positive and n negative images (DeLong et al. 1988, eq. 2).
    """
    aucs, positive_components, negative_components = delong_components(labels, scores)
    covariance = (
        np.atleast_2d(np.cov(positive_components)) / positive_components.shape[1]
        + np.atleast_2d(np.cov(negative_components)) / negative_components.shape[1]
    )
    return aucs, covariance


def delong_interval(
    labels: np.ndarray, probs: np.ndarray, *, confidence: float = 0.95
) -> tuple[float, float]:
    """DeLong interval of one AUROC, ``AUC -/+ z * SE`` clipped to [0, 1] (as R's pROC does).

    Parameters
    ----------
    labels : (n,) 0/1 array with at least two images of each class.
    probs : (n,) scores.
    """
    aucs, covariance = delong_covariance(labels, np.asarray(probs)[None, :])
    low, high = normal_interval(aucs[0], np.sqrt(covariance[0, 0]), confidence=confidence)
    return max(low, 0.0), min(high, 1.0)


def delong_test(
    labels: np.ndarray, probs_variant: np.ndarray, probs_reference: np.ndarray, *, confidence: float = 0.95
) -> DeLongResult:
    """DeLong's paired z-test of AUROC(variant) - AUROC(reference) on the same images (two-sided).

    The interval is the Wald interval ``difference -/+ z * SE``.  With zero variance of the difference
    the interval is NaN and the p-value 1 when the AUROCs are equal (identical rankings), NaN when they
    differ (a constant score); the note says so.
    """
    check_confidence(confidence)
    probs_variant, probs_reference = _as_pair(probs_variant, probs_reference, "probabilities")
    aucs, covariance = delong_covariance(labels, np.stack([probs_variant, probs_reference]))
    difference = float(aucs[0] - aucs[1])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    if variance <= 1e-12 * max(covariance[0, 0] + covariance[1, 1], 1e-300):
        # No variance to test against: equal AUROCs give p = 1 exactly; unequal ones (a constant score
        # against a perfect ranking) leave the test undefined, so NaN rather than p = 0 and z = inf.
        nan = float("nan")
        return DeLongResult(
            float(aucs[0]),
            float(aucs[1]),
            difference,
            nan,
            nan,
            0.0 if difference == 0 else nan,
            1.0 if difference == 0 else nan,
            "zero variance of the AUROC difference (identical rankings or a constant score); no interval",
        )
    standard_error = np.sqrt(variance)
    low, high = normal_interval(difference, standard_error, confidence=confidence)
    statistic = difference / standard_error
    return DeLongResult(
        float(aucs[0]),
        float(aucs[1]),
        difference,
        low,
        high,
        float(statistic),
        float(2 * stats.norm.sf(abs(statistic))),
    )


def bootstrap_p_value(differences: np.ndarray) -> PairedResult:
    """Two-sided paired-bootstrap p-value of H0: difference = 0 from (B,) replicate differences.

    ``p = min(1, 2 * min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1))``: twice the smaller tail beyond
    zero with the usual +1 correction, i.e. the p-value at which the percentile interval starts to
    contain 0.  NaN replicates (undefined metric, e.g. AUROC of a one-class resample) are dropped and
    counted in the note.  ``statistic`` is NaN: this test has no test statistic.
    """
    differences = np.asarray(differences, dtype=np.float64)
    valid = differences[~np.isnan(differences)]
    dropped = differences.size - valid.size
    note = f"{dropped} of {differences.size} bootstrap replicates undefined and dropped" if dropped else ""
    if valid.size == 0:
        return PairedResult(float("nan"), float("nan"), note)
    tail = min(np.sum(valid <= 0), np.sum(valid >= 0)) + 1
    return PairedResult(float("nan"), float(min(1.0, 2 * tail / (valid.size + 1))), note)


def rank_biserial(differences: np.ndarray, *, zero_method: str = "pratt") -> float:
    """Matched-pairs rank-biserial correlation of (n,) paired differences, in [-1, 1].

    ``(R+ - R-) / (R+ + R- + R0)`` (Kerby 2014): R+ and R- are the sums of the ranks of ``|d|`` of the
    positive and negative differences.  Zero differences are handled as the Wilcoxon test handles them:
    "wilcox" drops them before ranking; "pratt" ranks them and then leaves them out of both sums;
    "zsplit" ranks them and counts their ranks (R0) in the denominator only (half to each sign).
    Hand-written: scipy and statsmodels have no rank-biserial correlation.  1 means every non-zero
    difference is positive; 0 when every difference is zero.
    """
    differences = np.asarray(differences, dtype=np.float64)
    if zero_method == "wilcox":
        differences = differences[differences != 0]
    ranks = stats.rankdata(np.abs(differences))
    positive, negative = ranks[differences > 0].sum(), ranks[differences < 0].sum()
    total = positive + negative + (ranks[differences == 0].sum() if zero_method == "zsplit" else 0.0)
    return float((positive - negative) / total) if total > 0 else 0.0


def wilcoxon_test(
    values_variant: np.ndarray, values_reference: np.ndarray, *, zero_method: str = "pratt"
) -> PairedResult:
    """Wilcoxon signed-rank test of per-image differences ``variant - reference`` (scipy, two-sided).

    ``zero_method="pratt"`` (default) keeps zero differences in the ranking and then drops them from
    the rank sum, which is more conservative than discarding them first ("wilcox") when zeros are
    common (e.g. probabilities saturated at 0 or 1).  The number of zero differences goes in the note;
    if every difference is zero the p-value is 1.  ``effect_size`` is the matched-pairs rank-biserial
    correlation (``rank_biserial``) with the same zero handling; ``method`` is the zero method.
    """
    if zero_method not in WILCOXON_ZERO_METHODS:
        raise ValueError(f"Expected zero_method in {WILCOXON_ZERO_METHODS}, got {zero_method!r}.")
    variant, reference = _as_pair(values_variant, values_reference, "values")
    variant, reference = variant.astype(np.float64), reference.astype(np.float64)
    differences = variant - reference
    zeros = int(np.sum(differences == 0))
    if zeros == differences.size:
        return PairedResult(0.0, 1.0, f"all {zeros} differences are zero", zero_method, 0.0)
    result = stats.wilcoxon(variant, reference, zero_method=zero_method, method="auto")
    note = f"{zeros} of {differences.size} differences are zero ({zero_method})" if zeros else ""
    effect = rank_biserial(differences, zero_method=zero_method)
    return PairedResult(float(result.statistic), float(result.pvalue), note, zero_method, effect)
