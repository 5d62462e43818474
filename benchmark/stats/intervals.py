"""Confidence intervals: Wilson for proportions, bootstrap percentile (of any replicates, and of means
of bounded per-image values), order statistics for medians, and the (stratified) bootstrap replicates.

Every interval function returns ``(low, high)`` as floats; NaN where the interval is undefined (e.g. the
mean of one value), never an exception for that case.  The DeLong AUROC interval lives with the DeLong
test in ``benchmark.stats.paired``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import proportion_confint


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` if it lies strictly between 0 and 1, else raise ``ValueError``."""
    if not np.isscalar(confidence) or not 0 < confidence < 1:
        raise ValueError(f"Expected confidence strictly between 0 and 1, got {confidence!r}. Use e.g. 0.95.")
    return float(confidence)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / n`` (statsmodels ``proportion_confint``)."""
    check_confidence(confidence)
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"Expected 0 <= successes <= n and n > 0, got successes={successes}, n={n}.")
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


def percentile_interval(replicates: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Bootstrap percentile interval of (B,) replicate values, ignoring NaN replicates."""
    check_confidence(confidence)
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0:
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    return float(low), float(high)


def normal_interval(
    estimate: float, standard_error: float, *, confidence: float = 0.95
) -> tuple[float, float]:
    """Wald interval ``estimate -/+ z * standard_error`` (z the two-sided normal quantile)."""
    z = stats.norm.ppf(0.5 + check_confidence(confidence) / 2)
    return float(estimate - z * standard_error), float(estimate + z * standard_error)


def median_interval(values: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval of the median of (n,) values from order statistics.

    scipy's ``quantile_test(...).confidence_interval`` (exact binomial); NaN bounds when n is too small
    for the requested confidence (fewer than 6 values at 95%).
    """
    check_confidence(confidence)
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan")
    interval = stats.quantile_test(values, q=0, p=0.5).confidence_interval(confidence)
    return float(interval.low), float(interval.high)


def bootstrap_weights(n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """(n_bootstrap, n) bootstrap replicates as counts: how often each of n images was drawn.

    Drawing n images with replacement is a multinomial draw of these counts, so a row of counts is an
    ordinary bootstrap sample, and every metric becomes a weighted metric (see
    ``benchmark.metrics.classification``).  Using the same rows for all variants of a cell keeps the
    images paired, so differences between variants are paired bootstrap replicates.
    """
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 1:
        raise ValueError(f"Expected n_bootstrap to be a positive int, got {n_bootstrap!r}. Use e.g. 2000.")
    if n < 1:
        raise ValueError(f"Expected at least one image to resample, got n={n}.")
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_bootstrap).astype(np.float64)


def stratified_bootstrap_weights(
    labels: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_bootstrap, n) stratified bootstrap counts: each class resampled within itself.

    Every replicate keeps the observed number of pneumonia and normal images, so no replicate lacks a
    class (AUROC, sensitivity and specificity stay defined) and the class balance is that of the test
    set, as in a case-control design.  Rows are ``bootstrap_weights`` drawn per class.
    """
    labels = np.asarray(labels)
    weights = np.zeros((n_bootstrap, labels.size))
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        weights[:, members] = bootstrap_weights(members.size, n_bootstrap, rng)
    return weights


def expanded_confidence(confidence: float, n: int) -> float:
    """Level at which to read a bootstrap percentile interval of a mean of n values (n >= 2).

    The percentile interval of a mean is about mean -/+ z * sqrt((n-1)/n) * s, narrower than the
    t-interval mean -/+ t_{n-1} * s, so it undercovers at small n.  Hesterberg's expanded percentile
    interval reads it at the level whose z solves z * sqrt((n-1)/n) = t_{n-1}, matching the t-interval
    for symmetric data while staying inside the replicates (Hesterberg 2015, "What teachers should know
    about the bootstrap", The American Statistician 69:371, arXiv:1411.5279; R package resample's
    ``ExpandProbs``).  Hand-written: scipy and statsmodels lack it.  Capped just below 1.
    """
    t = stats.t.isf((1 - check_confidence(confidence)) / 2, n - 1)
    return min(1 - 2 * stats.norm.sf(np.sqrt(n / (n - 1)) * t), float(np.nextafter(1.0, 0.0)))


def bootstrap_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B, k) bootstrap replicates of the mean of each column of (n, k) ``values``, one matrix product.

    ``weights`` are (B, n) bootstrap counts (``bootstrap_weights``).  Non-finite values (PSNR = inf, or
    NaN for an image a column lacks) are left out: a replicate is the mean of the finite values it drew,
    NaN when it drew none.  A replicate never leaves a bound that every finite value respects, such as
    0 or 1: rounded products, sums and quotients are monotone and the integer counts sum exactly.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    totals = weights @ np.where(finite, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return totals / (weights @ finite.astype(np.float64))


def bootstrap_mean_intervals(
    values: np.ndarray, weights: np.ndarray, *, confidence: float = 0.95
) -> list[tuple[float, float]]:
    """Expanded percentile bootstrap interval of the mean of the finite values of each column of (n, k)
    ``values`` (``expanded_confidence`` at each column's count of finite values).

    Unlike a Student-t interval it lies within the range of the values, so a bounded metric keeps its
    range (Pearson r <= 1, SSIM <= 1, MSE >= 0) however skewed the values are near the bound.  The same
    (B, n) count rows ``weights`` serve every column, so columns are resampled as pairs.  NaN for a
    column with fewer than two finite values (an interval of zero width would claim no uncertainty).
    """
    check_confidence(confidence)
    replicates = bootstrap_means(values, weights)
    n_finite = np.isfinite(np.asarray(values, dtype=np.float64)).sum(axis=0)
    return [
        percentile_interval(column, confidence=expanded_confidence(confidence, count))
        if count >= 2
        else (float("nan"), float("nan"))
        for column, count in zip(replicates.T, n_finite, strict=True)
    ]
