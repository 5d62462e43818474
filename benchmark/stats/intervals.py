"""Confidence intervals: Wilson for proportions, t for means, order statistics for medians,
bootstrap percentile, and the (stratified) bootstrap replicates themselves.

Every function returns ``(low, high)`` as floats; NaN where the interval is undefined (e.g. a t-interval
of one value), never an exception for that case.  The DeLong AUROC interval lives with the DeLong
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


def t_interval(values: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of (n,) finite values; NaN for n < 2."""
    check_confidence(confidence)
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return float("nan"), float("nan")
    mean = values.mean()
    scale = values.std(ddof=1) / np.sqrt(values.size)
    if scale == 0:
        return float(mean), float(mean)
    low, high = stats.t.interval(confidence, values.size - 1, loc=mean, scale=scale)
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
