"""Non-inferiority and equivalence of a variant against HR, with a margin per metric.

For a margin m > 0 and difference d = variant - HR (higher is better for every metric here):

- non-inferiority: H0 d <= -m against H1 d > -m.  ``lower_bound`` is the lower limit of the two-sided
  ``confidence`` interval, i.e. a one-sided bound at level (1 + confidence) / 2 (alpha 0.025 for 95%,
  the CONSORT convention for non-inferiority trials, Piaggio et al. 2012, JAMA 308:2594).  Verdict
  "non-inferior" when the bound lies above -m, "inferior" when the whole interval lies below -m, else
  "inconclusive".  ``p_value`` is the one-sided p of H0.
- equivalence: two one-sided tests (TOST, Schuirmann 1987) of d <= -m and d >= m, each at the same
  one-sided level; ``p_equivalence`` is the larger p, "equivalent" when it is below that level (the
  two-sided interval lies inside (-m, m)), else "not shown".

Proportions (accuracy, sensitivity, specificity) use Newcombe's hybrid score interval for paired
proportions (``proportions.newcombe_paired_interval``; p-values by inverting it), on Rao-Scott effective
counts when images are clustered; AUROC uses the DeLong (or, clustered, Obuchowski) standard error
and a z-test shifted by the margin.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from benchmark.stats import proportions

# Proportions over images the labels fix (all, pneumonia, normal), so each image pairs a variant's call
# with HR's: paired proportions (McNemar, Newcombe). PPV and NPV count the images each side calls
# positive or negative, a different set per side, so they are not paired.
PAIRED_PROPORTION_METRICS = ("accuracy", "sensitivity", "specificity")
MARGIN_METRICS = (*PAIRED_PROPORTION_METRICS, "auroc")


def verdicts(low: float, high: float, margin: float, p_equivalence: float, alpha: float) -> tuple[str, str]:
    """(non-inferiority verdict, equivalence verdict) from the two-sided interval and the TOST p."""
    if np.isnan(low) or np.isnan(high):
        return "inconclusive", "not shown"
    verdict = "non-inferior" if low > -margin else "inferior" if high < -margin else "inconclusive"
    return verdict, "equivalent" if p_equivalence < alpha else "not shown"


def proportion_result(
    both: int,
    only_variant: int,
    only_reference: int,
    neither: int,
    margin: float,
    *,
    confidence: float,
    deff: float,
) -> dict:
    """Non-inferiority and TOST figures of a paired difference of proportions (module docstring)."""
    low, high = proportions.newcombe_paired_interval(
        both, only_variant, only_reference, neither, confidence=confidence, deff=deff
    )
    p_lower = proportions.newcombe_shift_p_value(
        both, only_variant, only_reference, neither, -margin, deff=deff
    )
    p_upper = proportions.newcombe_shift_p_value(
        both, only_reference, only_variant, neither, -margin, deff=deff
    )
    return _result(low, high, margin, p_lower, max(p_lower, p_upper), confidence)


def normal_result(difference: float, standard_error: float, margin: float, *, confidence: float) -> dict:
    """Non-inferiority and TOST figures of a difference with a normal standard error (AUROC)."""
    if not np.isfinite(standard_error) or standard_error <= 0:
        nan = float("nan")
        return {**_result(nan, nan, margin, nan, nan, confidence), "note": "zero variance of the difference"}
    z = stats.norm.isf((1 - confidence) / 2)
    low, high = difference - z * standard_error, difference + z * standard_error
    p_lower = float(stats.norm.sf((difference + margin) / standard_error))
    p_upper = float(stats.norm.sf((margin - difference) / standard_error))
    return _result(low, high, margin, p_lower, max(p_lower, p_upper), confidence)


def _result(low, high, margin, p_value, p_equivalence, confidence) -> dict:
    verdict, equivalence = verdicts(low, high, margin, p_equivalence, (1 - confidence) / 2)
    return {
        "ci_low": float(low),
        "ci_high": float(high),
        "lower_bound": float(low),
        "p_value": float(p_value),
        "verdict": verdict,
        "p_equivalence": float(p_equivalence),
        "equivalence": equivalence,
        "note": "",
    }
