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
from scipy import special, stats

from benchmark.stats.paired import MCNEMAR_EXACT_BELOW
from cxr_kernel.errors import UserValueError

MCNEMAR_TESTS = ("exact", "chi2", "chi2-continuity", "benchmark")
# More images than any study has: refused as a typo rather than computed.
MAX_N = 10**12
MIN_ALPHA = 1e-12
# Above this many images the binomial sums lose precision: only the normal approximation answers.
EXACT_MAX_N = 10**8
# Outcomes of the discordant count left out of the exact sums: at most this probability in each tail
# (below what a double can add to a power).
TAIL_MASS = 1e-17
# Most binomial terms an exact power may sum, and the search for n may sum at worst (each about a
# quarter of a second on one core); beyond, the normal approximation answers and the CLI says so.
EXACT_TERMS = 20_000
SCAN_TERMS = 600_000
# What one step of the search for n costs beyond its terms (numpy and scipy calls), in terms.
SCAN_STEP_TERMS = 200


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_N:
        raise UserValueError(f"Expected n to be an int from 1 to {MAX_N:.0e} (images), got {n!r}.")


def check_mcnemar_inputs(n: int, discordant: float, difference: float, alpha: float) -> None:
    """Refuse (UserValueError) what no study has: n outside 1..MAX_N, alpha outside MIN_ALPHA..0.5."""
    _check_n(n)
    if not 0 < discordant <= 1:
        raise UserValueError(
            f"Expected the discordant proportion in (0, 1], got {discordant!r}. Use e.g. 0.10."
        )
    if not abs(difference) < discordant:
        raise UserValueError(
            f"Expected |difference| < discordant proportion (p10 - p01 with p10 + p01 = {discordant}), got "
            f"difference {difference!r}. A difference needs at least as many discordant images."
        )
    if not MIN_ALPHA <= alpha <= 0.5:
        raise UserValueError(f"Expected alpha from {MIN_ALPHA:g} to 0.5, got {alpha!r}. Use e.g. 0.05.")


def _check_test(test: str) -> None:
    if test not in MCNEMAR_TESTS:
        raise UserValueError(f"Expected test in {MCNEMAR_TESTS}, got {test!r}.")


def _rejects(d: np.ndarray, b: np.ndarray, alpha: float, test: str) -> np.ndarray:
    """Whether McNemar's two-sided test rejects at level alpha with d discordant images, b of one kind."""
    c = d - b
    if test == "benchmark":
        small = d < MCNEMAR_EXACT_BELOW
        out = np.empty(np.shape(d), dtype=bool)
        out[small] = _rejects(d[small], b[small], alpha, "exact")
        out[~small] = _rejects(d[~small], b[~small], alpha, "chi2-continuity")
        return out
    if test == "exact":
        p = np.minimum(1.0, 2 * special.bdtr(np.minimum(b, c), d, 0.5))
    elif test == "chi2-continuity":
        p = special.chdtrc(1, np.maximum(np.abs(b - c) - 1.0, 0.0) ** 2 / d)
    else:
        p = special.chdtrc(1, (b - c) ** 2 / d)
    return p <= alpha


def _approximate_tail(d: np.ndarray, alpha: float, test: str) -> np.ndarray:
    """Within a count or two of the rejection boundary b of ``_lower_tail`` (closed forms; the exact
    test's from the normal approximation of Binomial(d, 1/2) with continuity correction)."""
    if test == "benchmark":
        return np.where(
            d < MCNEMAR_EXACT_BELOW,
            _approximate_tail(d, alpha, "exact"),
            _approximate_tail(d, alpha, "chi2-continuity"),
        )
    root = np.sqrt(stats.chi2.isf(alpha, 1) * d)
    return np.floor((d - root - (0.0 if test == "chi2" else 1.0)) / 2)


def _boundary_near(d: np.ndarray, estimate: np.ndarray, alpha: float, test: str, reach: int):
    """The largest rejecting b <= d/2 among estimate - reach .. estimate + reach (-1: none), and
    whether the true boundary may lie outside those counts."""
    half = d // 2
    tails = np.full(d.shape, -1, dtype=np.int64)
    for offset in range(-reach, reach + 1):
        b = np.clip(estimate + offset, 0, half)
        tails = np.where(_rejects(d, b, alpha, test), np.maximum(tails, b), tails)
    top, bottom = np.clip(estimate + reach, 0, half), np.clip(estimate - reach, 0, half)
    unsure = ((tails == top) & (top < half)) | ((tails < 0) & (bottom > 0))
    return tails, unsure


def _lower_tail(d: np.ndarray, alpha: float, test: str) -> np.ndarray:
    """k[d] for each discordant count d: the test rejects iff b <= k[d] or b >= d - k[d] (b the count
    of one kind; -1: never). The region is symmetric and b <= d/2 rejects more the smaller b is, so
    the largest rejecting b <= d/2 determines it: found among the counts next to a closed-form
    estimate, each checked with the test itself (and, where the estimate was off, next to the exact
    binomial quantile)."""
    d = np.maximum(np.asarray(d, dtype=np.int64), 1)
    estimate = _approximate_tail(d, alpha, test).astype(np.int64)
    tails, unsure = _boundary_near(d, estimate, alpha, test, 2)
    if unsure.any():
        quantile = stats.binom.ppf(alpha / 2, d[unsure], 0.5).astype(np.int64)
        exact_test = (test == "exact") | ((test == "benchmark") & (d[unsure] < MCNEMAR_EXACT_BELOW))
        again = np.where(exact_test, quantile, estimate[unsure])
        tails[unsure], still = _boundary_near(d[unsure], again, alpha, test, 4)
        if still.any():
            raise AssertionError("McNemar rejection boundary not found")  # a bug, not an input
    return tails


def _discordant_window(n: int, discordant: float) -> tuple[int, int]:
    """Discordant counts outside which Binomial(n, discordant) has at most TAIL_MASS in all, by
    Bernstein's inequality P(|X - n psi| >= t) <= 2 exp(-t^2 / (2 (v + t / 3))), v = n psi (1 - psi)."""
    spread = math.log(2 / TAIL_MASS)
    variance = n * discordant * (1 - discordant)
    t = spread / 3 + math.sqrt(spread**2 / 9 + 2 * spread * variance)
    mean = n * discordant
    return max(0, math.floor(mean - t)), min(n, math.ceil(mean + t))


def exact_terms(n: int, discordant: float) -> int:
    """Binomial terms the exact power of McNemar's test on n images sums."""
    low, high = _discordant_window(n, discordant)
    return high - low + 1


def _exact_power(
    n: int, discordant: float, difference: float, alpha: float, test: str, tails: np.ndarray | None = None
) -> float:
    """``tails``: ``_lower_tail`` of 0..n or more, when the caller computes it once for many n."""
    share = (discordant + difference) / 2 / discordant  # P(only the variant right | discordant)
    low, high = _discordant_window(n, discordant)
    d = np.arange(low, high + 1)
    k = _lower_tail(d, alpha, test) if tails is None else tails[low : high + 1]
    k = np.where(d == 0, -1, k)
    inside = np.clip(k, 0, d)
    given_d = np.where(
        k < 0,
        0.0,
        np.where(2 * k >= d, 1.0, special.bdtr(inside, d, share) + special.bdtrc(d - inside - 1, d, share)),
    )
    return float(min(np.dot(stats.binom.pmf(d, n, discordant), given_d), 1.0))


def mcnemar_power_exact(
    n: int, discordant: float, difference: float, *, alpha: float = 0.05, test: str = "exact"
) -> float:
    """Exact power of McNemar's two-sided test by enumeration of every outcome (module docstring);
    discordant counts beyond TAIL_MASS per tail are left out.

    Parameters
    ----------
    n : images (pairs).
    discordant : psi = p10 + p01, the expected fraction of images exactly one of the two gets right.
    difference : delta = p10 - p01, the accuracy difference to detect.
    alpha : two-sided level.
    test : one of ``MCNEMAR_TESTS``.
    """
    check_mcnemar_inputs(n, discordant, difference, alpha)
    _check_test(test)
    return _exact_power(n, discordant, difference, alpha, test)


def exact_affordable(n: int, discordant: float) -> bool:
    """Whether ``mcnemar_power_exact`` on n images sums at most EXACT_TERMS terms (and n is at most
    EXACT_MAX_N)."""
    return n <= EXACT_MAX_N and exact_terms(n, discordant) <= EXACT_TERMS


def mcnemar_power_connor(n: float, discordant: float, difference: float, *, alpha: float = 0.05) -> float:
    """Connor's (1987) approximate power of McNemar's two-sided test (module docstring)."""
    check_mcnemar_inputs(int(math.ceil(n)), discordant, difference, alpha)
    z_alpha = stats.norm.isf(alpha / 2)
    z_beta = (abs(difference) * math.sqrt(n) - z_alpha * math.sqrt(discordant)) / math.sqrt(
        discordant - difference**2
    )
    return float(stats.norm.cdf(z_beta))


def mcnemar_n_connor(discordant: float, difference: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Connor's (1987) sample size for McNemar's test: images needed for ``power`` (rounded up)."""
    check_mcnemar_inputs(1, discordant, difference, alpha)
    _check_power(power)
    if difference == 0:
        raise UserValueError("Expected a non-zero difference to detect, got 0. Use e.g. 0.03.")
    z_alpha, z_beta = stats.norm.isf(alpha / 2), stats.norm.ppf(power)
    n = (z_alpha * math.sqrt(discordant) + z_beta * math.sqrt(discordant - difference**2)) ** 2
    n = n / difference**2 - 1e-9
    if not n <= MAX_N:
        raise UserValueError(
            f"Detecting an accuracy difference of {difference} with power {power} needs about {n:.2g} "
            f"images, more than {MAX_N:.0e}. Choose a larger difference."
        )
    return int(math.ceil(n))


def mcnemar_n_exact(
    discordant: float, difference: float, *, alpha: float = 0.05, power: float = 0.8, test: str = "exact"
) -> int | None:
    """Smallest n whose exact power (``mcnemar_power_exact``) reaches ``power``, scanning 0.8 to 1.3
    times Connor's n; None when that scan could sum more than SCAN_TERMS binomial terms or finds none
    (then use ``mcnemar_n_connor``).

    Exact power is not monotone in n (the test is discrete), so this scans upwards from below
    Connor's n; a larger n can dip below ``power`` again by a little.
    """
    check_mcnemar_inputs(1, discordant, difference, alpha)
    _check_test(test)
    connor = mcnemar_n_connor(discordant, difference, alpha=alpha, power=power)
    start, limit = max(1, int(0.8 * connor)), int(1.3 * connor) + 50
    if (
        limit > EXACT_MAX_N
        or (limit - start + 1) * (SCAN_STEP_TERMS + exact_terms(limit, discordant)) > SCAN_TERMS
    ):
        return None
    tails = _lower_tail(np.arange(limit + 1), alpha, test)
    for n in range(start, limit + 1):
        if _exact_power(n, discordant, difference, alpha, test, tails) >= power:
            return n
    return None


def _check_power(power: float) -> None:
    if not 0 < power < 1:
        raise UserValueError(f"Expected power in (0, 1), got {power!r}. Use e.g. 0.8.")


def hanley_mcneil_variance(auroc: float, n_positive: int, n_negative: int) -> float:
    """Hanley & McNeil's (1982) variance of an AUROC from n_positive diseased and n_negative normal images."""
    if not 0 < auroc < 1:
        raise UserValueError(f"Expected an AUROC strictly between 0 and 1, got {auroc!r}.")
    if n_positive < 1 or n_negative < 1:
        raise UserValueError(f"Expected at least one image per class, got {n_positive} and {n_negative}.")
    q1, q2 = auroc / (2 - auroc), 2 * auroc**2 / (1 + auroc)
    numerator = auroc * (1 - auroc) + (n_positive - 1) * (q1 - auroc**2) + (n_negative - 1) * (q2 - auroc**2)
    return float(numerator / (n_positive * n_negative))


def _auroc_sd(auroc: float, difference: float, n_positive: int, n_negative: int, correlation: float) -> float:
    if not -1 <= correlation < 1:
        raise UserValueError(f"Expected a correlation in [-1, 1), got {correlation!r}. Use e.g. 0.5.")
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
            raise UserValueError(
                f"No n below {MAX_N:.0e} images reaches power {power}. Choose a larger difference."
            )
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
