"""Power and sample size of the paired comparisons a study makes: accuracy (McNemar) and AUROC.

Hand-written: statsmodels' ``stats.power`` covers t-, z-, F- and chi-square tests of independent
samples but neither McNemar's test nor correlated AUROCs.

McNemar (a variant vs HR on the same n images).  With discordant proportion ``psi = p10 + p01`` (images
exactly one of the two gets right) and ``delta = p10 - p01`` (the accuracy difference):

- ``mcnemar_power_exact``: exact power by enumeration.  The number of discordant images is
  Binomial(n, psi); given d of them, the count only the variant gets right is Binomial(d, p10/psi); the
  power is the probability of the rejection region summed over every (d, b).  ``test="exact"`` is the
  exact (conditional binomial) McNemar test, ``"chi2"`` the uncorrected chi-square test,
  ``"chi2-continuity"`` with continuity correction, and ``"benchmark"`` the test the benchmark runs
  (exact below 25 discordant images, else chi-square with continuity correction,
  ``paired.mcnemar_test``).
- ``mcnemar_power_connor``: Connor's (1987, Biometrics 43:207) normal approximation,
  ``z_beta = (|delta| sqrt(n) - z_{alpha/2} sqrt(psi)) / sqrt(psi - delta^2)``, and its sample size
  ``n = (z_{alpha/2} sqrt(psi) + z_beta sqrt(psi - delta^2))^2 / delta^2``.

AUROC (Hanley & McNeil 1982, Radiology 143:29): the variance of one AUROC A from n1 diseased and n0
normal images is ``(A(1-A) + (n1-1)(Q1-A^2) + (n0-1)(Q2-A^2)) / (n1 n0)`` with ``Q1 = A/(2-A)``,
``Q2 = 2A^2/(1+A)``; two AUROCs on the same images with correlation r (Hanley & McNeil 1983, Radiology
148:839) differ with variance ``V1 + V2 - 2 r sqrt(V1 V2)``; the two-sided z-test has power
``Phi(|delta|/sd - z) + Phi(-|delta|/sd - z)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from benchmark.stats.paired import MCNEMAR_EXACT_BELOW

MCNEMAR_TESTS = ("exact", "chi2", "chi2-continuity", "benchmark")
MAX_N = 200_000


def _check_mcnemar(n: int, discordant: float, difference: float, alpha: float) -> None:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"Expected n to be a positive int (images), got {n!r}.")
    if not 0 < discordant <= 1:
        raise ValueError(f"Expected the discordant proportion in (0, 1], got {discordant!r}. Use e.g. 0.10.")
    if not abs(difference) < discordant:
        raise ValueError(
            f"Expected |difference| < discordant proportion (p10 - p01 with p10 + p01 = {discordant}), got "
            f"difference {difference!r}. A difference needs at least as many discordant images."
        )
    if not 0 < alpha < 1:
        raise ValueError(f"Expected alpha in (0, 1), got {alpha!r}. Use e.g. 0.05.")


def _rejects(d: int, b: np.ndarray, alpha: float, test: str) -> np.ndarray:
    """Whether McNemar's two-sided test rejects at level alpha with d discordant images, b of one kind."""
    c = d - b
    if test == "benchmark":
        test = "exact" if d < MCNEMAR_EXACT_BELOW else "chi2-continuity"
    if test == "exact":
        p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(b, c), d, 0.5))
    elif test == "chi2-continuity":
        p = stats.chi2.sf(np.maximum(np.abs(b - c) - 1.0, 0.0) ** 2 / d, 1)
    else:
        p = stats.chi2.sf((b - c) ** 2 / d, 1)
    return p <= alpha


def _lower_tail(d_max: int, alpha: float, test: str) -> np.ndarray:
    """k[d] for d = 0..d_max: the test rejects with d discordant images iff b <= k[d] or b >= d - k[d]
    (b the count of one kind; -1: never).  The region is symmetric and b <= d/2 rejects more the
    smaller b is, so the lower half determines it."""
    tails = np.full(d_max + 1, -1, dtype=np.int64)
    for d in range(1, d_max + 1):
        b = np.arange(d // 2 + 1)
        rejected = _rejects(d, b, alpha, test)
        if rejected.any():
            tails[d] = int(np.flatnonzero(rejected)[-1])
    return tails


def _exact_power(n: int, discordant: float, difference: float, tails: np.ndarray) -> float:
    share = (discordant + difference) / 2 / discordant  # P(only the variant right | discordant)
    d = np.arange(n + 1)
    k = tails[: n + 1]
    given_d = np.where(
        k < 0,
        0.0,
        np.where(
            2 * k >= d,
            1.0,
            stats.binom.cdf(k, d, share) + stats.binom.sf(d - k - 1, d, share),
        ),
    )
    return float(min(np.dot(stats.binom.pmf(d, n, discordant), given_d), 1.0))


def mcnemar_power_exact(
    n: int, discordant: float, difference: float, *, alpha: float = 0.05, test: str = "exact"
) -> float:
    """Exact power of McNemar's two-sided test by enumeration of every outcome (module docstring).

    Parameters
    ----------
    n : images (pairs).
    discordant : psi = p10 + p01, the expected fraction of images exactly one of the two gets right.
    difference : delta = p10 - p01, the accuracy difference to detect.
    alpha : two-sided level.
    test : one of ``MCNEMAR_TESTS``.
    """
    _check_mcnemar(n, discordant, difference, alpha)
    if test not in MCNEMAR_TESTS:
        raise ValueError(f"Expected test in {MCNEMAR_TESTS}, got {test!r}.")
    return _exact_power(n, discordant, difference, _lower_tail(n, alpha, test))


def mcnemar_power_connor(n: float, discordant: float, difference: float, *, alpha: float = 0.05) -> float:
    """Connor's (1987) approximate power of McNemar's two-sided test (module docstring)."""
    _check_mcnemar(int(math.ceil(n)), discordant, difference, alpha)
    z_alpha = stats.norm.isf(alpha / 2)
    z_beta = (abs(difference) * math.sqrt(n) - z_alpha * math.sqrt(discordant)) / math.sqrt(
        discordant - difference**2
    )
    return float(stats.norm.cdf(z_beta))


def mcnemar_n_connor(discordant: float, difference: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Connor's (1987) sample size for McNemar's test: images needed for ``power`` (rounded up)."""
    _check_mcnemar(1, discordant, difference, alpha)
    _check_power(power)
    z_alpha, z_beta = stats.norm.isf(alpha / 2), stats.norm.ppf(power)
    n = (z_alpha * math.sqrt(discordant) + z_beta * math.sqrt(discordant - difference**2)) ** 2
    return int(math.ceil(n / difference**2 - 1e-9))


def mcnemar_n_exact(
    discordant: float, difference: float, *, alpha: float = 0.05, power: float = 0.8, test: str = "exact"
) -> int:
    """Smallest n whose exact power (``mcnemar_power_exact``) reaches ``power``.

    Exact power is not monotone in n (the test is discrete), so this scans upwards from below
    Connor's n; a larger n can dip below ``power`` again by a little.
    """
    _check_mcnemar(1, discordant, difference, alpha)
    if test not in MCNEMAR_TESTS:
        raise ValueError(f"Expected test in {MCNEMAR_TESTS}, got {test!r}.")
    connor = mcnemar_n_connor(discordant, difference, alpha=alpha, power=power)
    limit = min(MAX_N, 2 * connor + 50)
    tails = _lower_tail(limit, alpha, test)
    for n in range(max(1, int(0.8 * connor)), limit + 1):
        if _exact_power(n, discordant, difference, tails) >= power:
            return n
    raise ValueError(f"No n below {MAX_N} reaches power {power}. Choose a larger difference.")


def _check_power(power: float) -> None:
    if not 0 < power < 1:
        raise ValueError(f"Expected power in (0, 1), got {power!r}. Use e.g. 0.8.")


def hanley_mcneil_variance(auroc: float, n_positive: int, n_negative: int) -> float:
    """Hanley & McNeil's (1982) variance of an AUROC from n_positive diseased and n_negative normal images."""
    if not 0 < auroc < 1:
        raise ValueError(f"Expected an AUROC strictly between 0 and 1, got {auroc!r}.")
    if n_positive < 1 or n_negative < 1:
        raise ValueError(f"Expected at least one image per class, got {n_positive} and {n_negative}.")
    q1, q2 = auroc / (2 - auroc), 2 * auroc**2 / (1 + auroc)
    numerator = auroc * (1 - auroc) + (n_positive - 1) * (q1 - auroc**2) + (n_negative - 1) * (q2 - auroc**2)
    return float(numerator / (n_positive * n_negative))


def _auroc_sd(auroc: float, difference: float, n_positive: int, n_negative: int, correlation: float) -> float:
    if not -1 <= correlation < 1:
        raise ValueError(f"Expected a correlation in [-1, 1), got {correlation!r}. Use e.g. 0.5.")
    v1 = hanley_mcneil_variance(auroc, n_positive, n_negative)
    v2 = hanley_mcneil_variance(auroc - difference, n_positive, n_negative)
    return math.sqrt(v1 + v2 - 2 * correlation * math.sqrt(v1 * v2))


def auroc_power(
    auroc: float,
    difference: float,
    n_positive: int,
    n_negative: int,
    *,
    correlation: float = 0.5,
    alpha: float = 0.05,
) -> float:
    """Power of the two-sided z-test of AUROC(reference) - AUROC(variant) = ``difference``
    (module docstring)."""
    sd = _auroc_sd(auroc, difference, n_positive, n_negative, correlation)
    z_alpha = stats.norm.isf(alpha / 2)
    shift = abs(difference) / sd
    return float(stats.norm.cdf(shift - z_alpha) + stats.norm.cdf(-shift - z_alpha))


def auroc_n(
    auroc: float,
    difference: float,
    *,
    prevalence: float,
    correlation: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Smallest number of images (``prevalence`` of them diseased) whose ``auroc_power`` reaches ``power``."""
    _check_power(power)

    def reached(n: int) -> bool:
        positives = max(1, round(prevalence * n))
        return (
            auroc_power(
                auroc, difference, positives, max(1, n - positives), correlation=correlation, alpha=alpha
            )
            >= power
        )

    high = 4
    while not reached(high):
        high *= 2
        if high > MAX_N:
            raise ValueError(f"No n below {MAX_N} reaches power {power}. Choose a larger difference.")
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reached(middle) else (middle, high)
    return high


def smallest_detectable_difference(
    n: int, discordant: float, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest accuracy difference McNemar's test on n images detects with ``power`` (Connor's
    approximation, solved for delta), given the expected discordant proportion."""
    _check_power(power)
    low, high = 0.0, discordant * (1 - 1e-9)
    if mcnemar_power_connor(n, discordant, high, alpha=alpha) < power:
        return float("nan")
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (
            (middle, high)
            if mcnemar_power_connor(n, discordant, middle, alpha=alpha) < power
            else (
                low,
                middle,
            )
        )
    return float(high)
