"""Score intervals for proportions: Wilson for one proportion, Newcombe's hybrid score interval for a
paired difference, both optionally on Rao-Scott effective counts for clustered images.

statsmodels has the Wilson interval (``proportion_confint(method="wilson")``, used here) but no paired
Newcombe interval, so that one is hand-written from Newcombe (1998), "Improved confidence intervals for
the difference between binomial proportions based on paired data", Stat Med 17:2635-2650, method 10,
with its correction of the phi coefficient (as in Fagerland, Lydersen & Laake 2017, "Statistical Analysis
of Contingency Tables", ch. 8, whose worked example the tests reproduce).

Clustered images (several radiographs of one patient) carry less information than their count: the
Rao-Scott approach (Rao & Scott 1992, Biometrics 48:577) divides every count by the design effect
``deff`` (the variance of the clustered estimate over the variance under independence), and the usual
interval is computed on those effective counts.  ``deff`` is at least 1 here: with fewer clusters than
needed to estimate it well a smaller value would only claim more precision than independent images.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint

from benchmark.stats.intervals import check_confidence

Z_CAP = 37.0  # largest normal quantile searched; norm.sf(37) ~ 5.7e-300 is still a positive double


def wilson_bounds(successes: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score bounds at normal quantile ``z`` for (possibly non-integer, effective) counts."""
    if not np.isfinite(n) or n <= 0:
        return float("nan"), float("nan")
    low, high = proportion_confint(successes, n, alpha=2 * stats.norm.sf(z), method="wilson")
    return float(low), float(high)


def design_effect(values: np.ndarray, clusters: np.ndarray | None) -> float:
    """Design effect of the mean of per-image ``values`` under clustering, at least 1.

    Ratio of the cluster-robust (sandwich) variance of the mean, ``G/(G-1) * sum_g (S_g - n_g m)^2 /
    n^2`` (S_g the cluster sums, G clusters), to the independent-images variance
    ``sum (x - m)^2 / (n (n - 1))``.  1 without clusters or with one image per cluster; NaN with fewer
    than 2 clusters (no between-patient variance can be estimated); ``n / G`` (as if a patient's images
    were copies, the largest design effect clustering can cause) when every value is equal, so that a
    proportion of 0 or 1 is never made more precise than its patients allow.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if clusters is None:
        return 1.0
    codes = np.unique(np.asarray(clusters), return_inverse=True)[1].ravel()
    counts = np.bincount(codes)
    groups = counts.size
    if groups < 2:
        return float("nan")
    if groups == n:
        return 1.0
    mean = values.mean()
    independent = np.sum((values - mean) ** 2) / (n * (n - 1))
    if independent <= 0:
        return float(n / groups)
    sums = np.bincount(codes, weights=values)
    robust = groups / (groups - 1) * np.sum((sums - counts * mean) ** 2) / n**2
    return float(max(1.0, robust / independent))


def wilson_interval(
    successes: int, n: int, *, confidence: float = 0.95, deff: float = 1.0
) -> tuple[float, float]:
    """Two-sided Wilson interval of ``successes / n`` on effective counts ``successes / deff``, ``n / deff``.

    NaN bounds for n = 0 (the proportion is undefined).
    """
    z = stats.norm.isf((1 - check_confidence(confidence)) / 2)
    return wilson_bounds(successes / deff, n / deff, z)


def _phi(both: float, only_first: float, only_second: float, neither: float) -> float:
    """Newcombe's corrected phi of the paired 2x2 table (0 when a margin is empty)."""
    n = both + only_first + only_second + neither
    margins = (both + only_first) * (only_second + neither) * (both + only_second) * (only_first + neither)
    if margins <= 0:
        return 0.0
    cross = both * neither - only_first * only_second
    if cross > n / 2:
        cross -= n / 2
    elif cross >= 0:
        cross = 0.0
    return float(cross / np.sqrt(margins))


def newcombe_bounds(
    both: float, only_first: float, only_second: float, neither: float, z: float
) -> tuple[float, float]:
    """Newcombe's (1998, method 10) hybrid score bounds of p1 - p2 at normal quantile ``z``.

    ``p1 = (both + only_first) / n`` and ``p2 = (both + only_second) / n`` are the two paired
    proportions (e.g. the fractions correct of a variant and of HR).  Counts may be effective
    (non-integer) counts.
    """
    n = both + only_first + only_second + neither
    if not np.isfinite(n) or n <= 0:
        return float("nan"), float("nan")
    p1, p2 = (both + only_first) / n, (both + only_second) / n
    l1, u1 = wilson_bounds(both + only_first, n, z)
    l2, u2 = wilson_bounds(both + only_second, n, z)
    phi = _phi(both, only_first, only_second, neither)
    difference = p1 - p2
    low = difference - np.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    high = difference + np.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return float(max(low, -1.0)), float(min(high, 1.0))


def newcombe_paired_interval(
    both: float,
    only_first: float,
    only_second: float,
    neither: float,
    *,
    confidence: float = 0.95,
    deff: float = 1.0,
) -> tuple[float, float]:
    """Two-sided Newcombe hybrid score interval of a paired difference of proportions.

    Parameters
    ----------
    both, only_first, only_second, neither : the paired 2x2 table (e.g. images both variants got
        right, only the first, only the second, neither).
    confidence : two-sided level.
    deff : design effect; every count is divided by it (Rao-Scott effective counts).
    """
    z = stats.norm.isf((1 - check_confidence(confidence)) / 2)
    counts = np.array([both, only_first, only_second, neither], dtype=np.float64) / deff
    return newcombe_bounds(*counts, z)


def newcombe_shift_p_value(
    both: float, only_first: float, only_second: float, neither: float, shift: float, *, deff: float = 1.0
) -> float:
    """One-sided p-value of H0: p1 - p2 <= ``shift`` against p1 - p2 > ``shift``, by inverting the
    Newcombe interval: the p at which its one-sided lower bound (normal quantile z, p = 1 - Phi(z))
    reaches ``shift``.

    For a non-inferiority margin m, ``shift = -m``; for the upper half of TOST, negate the table's
    discordant cells and use ``shift = -m`` again.  0.5 when the estimate equals ``shift``.
    """
    counts = np.array([both, only_first, only_second, neither], dtype=np.float64) / deff
    n = counts.sum()
    if not np.isfinite(n) or n <= 0:
        return float("nan")
    difference = (counts[1] - counts[2]) / n
    if np.isclose(difference, shift, rtol=0, atol=1e-15):
        return 0.5
    if difference > shift:

        def gap(z: float) -> float:
            return newcombe_bounds(*counts, z)[0] - shift

        upper = 1.0
        while gap(upper) > 0 and upper < Z_CAP:
            upper = min(2 * upper, Z_CAP)
        if gap(upper) > 0:  # beyond z = 37 (p ~ 6e-300): report that bound rather than 0
            return float(stats.norm.sf(Z_CAP))
        return float(stats.norm.sf(optimize.brentq(gap, 0.0, upper, xtol=1e-12)))

    def gap_high(z: float) -> float:
        return newcombe_bounds(*counts, z)[1] - shift

    upper = 1.0
    while gap_high(upper) < 0 and upper < Z_CAP:
        upper = min(2 * upper, Z_CAP)
    if gap_high(upper) < 0:
        return 1.0
    return float(stats.norm.cdf(optimize.brentq(gap_high, 0.0, upper, xtol=1e-12)))
