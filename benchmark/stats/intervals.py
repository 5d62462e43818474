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


def jackknife_weights(n: int, clusters: np.ndarray | None = None) -> np.ndarray:
    """(G, n) 0/1 weight rows, each leaving out one image (``clusters`` None: G = n) or one cluster.

    Any weighted metric evaluated on these rows gives its leave-one-out (cluster) jackknife values.
    """
    if clusters is None:
        return 1.0 - np.eye(n)
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    return (codes.ravel()[None, :] != np.arange(codes.max() + 1)[:, None]).astype(np.float64)


def acceleration(jackknife: np.ndarray) -> float:
    """BCa acceleration ``a = sum d^3 / (6 (sum d^2)^(3/2))``, d = mean - jackknife value (Efron 1987,
    eq. 6.6; scipy's ``_bca_interval``); NaN jackknife values are left out, 0 when every value is equal."""
    values = np.asarray(jackknife, dtype=np.float64)
    values = values[~np.isnan(values)]
    deviations = values.mean() - values if values.size else values
    spread = np.sum(deviations**2)
    return float(np.sum(deviations**3) / (6 * spread**1.5)) if spread > 0 else 0.0


def bias_correction(replicates: np.ndarray, estimate: float) -> float:
    """BCa bias correction z0 = Phi^-1(share of replicates below the estimate, ties counting half), as
    scipy; infinite when the estimate lies outside every replicate."""
    below = (np.sum(replicates < estimate) + np.sum(replicates <= estimate)) / (2 * replicates.size)
    return float(stats.norm.ppf(below))


def bca_interval(
    replicates: np.ndarray, estimate: float, jackknife: np.ndarray, *, confidence: float = 0.95
) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa) bootstrap interval (Efron 1987, JASA 82:171; DiCiccio &
    Efron 1996), the percentiles of the (B,) ``replicates`` (NaN dropped) at the levels
    ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for z = -/+ Phi^-1((1 + confidence) / 2), with z0 from
    ``bias_correction`` and a from the ``jackknife`` values (``acceleration``; clustered: one per
    left-out patient).  Equals ``scipy.stats.bootstrap(method="BCa")`` given the same resamples.
    NaN when z0 is infinite (the estimate outside every replicate) or no replicate is defined.
    """
    check_confidence(confidence)
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0 or not np.isfinite(estimate):
        return float("nan"), float("nan")
    z0 = bias_correction(replicates, estimate)
    if not np.isfinite(z0):
        return float("nan"), float("nan")
    a = acceleration(jackknife)
    z = stats.norm.ppf((1 - confidence) / 2)
    levels = [stats.norm.cdf(z0 + (z0 + q) / (1 - a * (z0 + q))) for q in (z, -z)]
    low, high = np.percentile(replicates, [100 * level for level in levels])
    return float(low), float(high)


def bca_p_value(replicates: np.ndarray, estimate: float, jackknife: np.ndarray) -> float:
    """Two-sided p of H0 "0" by inverting the BCa interval: twice the smaller tail level alpha at which
    a BCa bound reaches 0, the share of replicates beyond 0 counted with +1 as
    ``paired.bootstrap_p_value`` (so p >= 2/(B+1); with z0 = a = 0 it is that percentile p-value).

    For a tail the bound cannot reach (``1 + a w <= 0``) the percentile share is used.  NaN when the
    BCa interval is undefined.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    replicates = replicates[~np.isnan(replicates)]
    if replicates.size == 0 or not np.isfinite(estimate):
        return float("nan")
    z0 = bias_correction(replicates, estimate)
    if not np.isfinite(z0):
        return float("nan")
    a, size = acceleration(jackknife), replicates.size
    below = min(1.0, (np.sum(replicates <= 0) + 1) / (size + 1))
    above = min(1.0, (np.sum(replicates >= 0) + 1) / (size + 1))
    tails = []
    # Lower bound at 0: Phi(z0 + u / (1 - a u)) = below with u = z0 + z_alpha, so u = w / (1 + a w),
    # w = Phi^-1(below) - z0.  Upper bound at 0: the same with v = z0 - z_alpha and 1 - above.
    for share, w, sign in (
        (below, stats.norm.ppf(below) - z0, 1.0),
        (above, stats.norm.ppf(1 - above) - z0, -1.0),
    ):
        if share >= 1 or 1 + a * w <= 0:
            tails.append(share)
        else:
            tails.append(float(stats.norm.cdf(sign * (w / (1 + a * w) - z0))))
    return float(min(1.0, 2 * min(tails)))
