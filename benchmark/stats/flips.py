"""Per-image diagnosis flips: does a variant's predicted label differ from HR's on the same image?

Hand-written (a few comparisons; no library counts this): a flip is ``pred_variant != pred_hr`` with
``pred = prob >= threshold`` (1 = pneumonia).  Flips are relative to HR's prediction, not to the true
label; ``correct_to_wrong`` (harmful) / ``wrong_to_correct`` (helpful) say whether the flip hurt or
helped.  ``flip_summary`` adds their rates with Wilson intervals (statsmodels) and the mean absolute
change in P(pneumonia) with a bootstrap percentile interval.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from benchmark.stats.intervals import bca_interval, percentile_interval, wilson_interval

FLIP_COUNTS = (
    "n",
    "n_flips",
    "flip_rate",
    "normal_to_pneumonia",
    "pneumonia_to_normal",
    "correct_to_wrong",
    "wrong_to_correct",
)
FLIP_RATES = (
    "flip_rate_ci_low",
    "flip_rate_ci_high",
    "harmful_rate",
    "harmful_ci_low",
    "harmful_ci_high",
    "helpful_rate",
    "helpful_ci_low",
    "helpful_ci_high",
    "mean_abs_prob_change",
    "mean_abs_prob_change_ci_low",
    "mean_abs_prob_change_ci_high",
)


def predicted_labels(probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(n,) int predictions, 1 (pneumonia) where ``prob >= threshold`` else 0."""
    return (np.asarray(probs, dtype=np.float64) >= threshold).astype(np.int64)


def flip_mask(prob_hr: np.ndarray, prob_variant: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """(n,) bool, True where the variant's predicted label differs from HR's on the same image."""
    prob_hr, prob_variant = np.asarray(prob_hr), np.asarray(prob_variant)
    if prob_hr.ndim != 1 or prob_hr.shape != prob_variant.shape:
        raise ValueError(
            f"Expected HR and variant probabilities as 1-D arrays of the same length, got shapes "
            f"{prob_hr.shape} and {prob_variant.shape}. Align both on the same image ids."
        )
    return predicted_labels(prob_hr, threshold) != predicted_labels(prob_variant, threshold)


def flip_counts(
    labels: np.ndarray, prob_hr: np.ndarray, prob_variant: np.ndarray, *, threshold: float = 0.5
) -> dict[str, float]:
    """Count diagnosis flips of one variant against HR.

    Parameters
    ----------
    labels : (n,) true labels, 1 = pneumonia, 0 = normal.
    prob_hr, prob_variant : (n,) P(pneumonia) of the HR image and of the variant, same image order.
    threshold : decision threshold on P(pneumonia).

    Returns
    -------
    dict
        Keys ``FLIP_COUNTS``: n images, n_flips, flip_rate = n_flips / n, normal_to_pneumonia (HR
        predicted normal, variant pneumonia), pneumonia_to_normal, correct_to_wrong (HR right, variant
        wrong), wrong_to_correct.  In a binary task every flip is exactly one of the last two.
    """
    labels = np.asarray(labels)
    flipped = flip_mask(prob_hr, prob_variant, threshold=threshold)
    if labels.shape != flipped.shape:
        raise ValueError(
            f"Expected one label per image, got {labels.size} labels for {flipped.size} images. "
            "Align labels with the probabilities."
        )
    hr_says_pneumonia = predicted_labels(prob_hr, threshold) == 1
    hr_correct = predicted_labels(prob_hr, threshold) == labels
    n_flips = int(flipped.sum())
    return {
        "n": int(flipped.size),
        "n_flips": n_flips,
        "flip_rate": n_flips / flipped.size if flipped.size else float("nan"),
        "normal_to_pneumonia": int(np.sum(flipped & ~hr_says_pneumonia)),
        "pneumonia_to_normal": int(np.sum(flipped & hr_says_pneumonia)),
        "correct_to_wrong": int(np.sum(flipped & hr_correct)),
        "wrong_to_correct": int(np.sum(flipped & ~hr_correct)),
    }


def flip_summary(
    labels: np.ndarray,
    prob_hr: np.ndarray,
    prob_variant: np.ndarray,
    *,
    threshold: float,
    weights: np.ndarray,
    confidence: float = 0.95,
    jackknife_weights: np.ndarray | None = None,
) -> dict[str, float]:
    """``flip_counts`` plus rates with intervals (keys ``FLIP_COUNTS + FLIP_RATES``).

    Rates are per image of the cell: flip_rate, harmful_rate = correct_to_wrong / n and helpful_rate =
    wrong_to_correct / n, each with a Wilson interval.  mean_abs_prob_change is the mean of
    ``|prob_variant - prob_hr|`` over all images, with the percentile interval of its (B,) replicates
    under the bootstrap count rows ``weights`` (B, n), or their BCa interval when the jackknife rows
    ``jackknife_weights`` (``intervals.jackknife_weights``) are given (percentile where BCa is
    undefined).
    """
    counts = flip_counts(labels, prob_hr, prob_variant, threshold=threshold)
    n = counts["n"]
    summary: dict[str, float] = dict(counts)
    summary["flip_rate_ci_low"], summary["flip_rate_ci_high"] = wilson_interval(
        counts["n_flips"], n, confidence=confidence
    )
    for name, count in (("harmful", counts["correct_to_wrong"]), ("helpful", counts["wrong_to_correct"])):
        summary[f"{name}_rate"] = count / n
        summary[f"{name}_ci_low"], summary[f"{name}_ci_high"] = wilson_interval(
            count, n, confidence=confidence
        )
    change = np.abs(np.asarray(prob_variant, np.float64) - np.asarray(prob_hr, np.float64))
    summary["mean_abs_prob_change"] = float(change.mean())
    replicates = (weights @ change) / weights.sum(axis=1)
    low = high = float("nan")
    if jackknife_weights is not None:
        jackknife = (jackknife_weights @ change) / jackknife_weights.sum(axis=1)
        low, high = bca_interval(
            replicates, summary["mean_abs_prob_change"], jackknife, confidence=confidence
        )
    if np.isnan(low):
        low, high = percentile_interval(replicates, confidence=confidence)
    summary["mean_abs_prob_change_ci_low"], summary["mean_abs_prob_change_ci_high"] = low, high
    return summary


def most_flipped(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """(image id, number of variants whose predicted class differs from HR's) of every image some
    variant flipped: most variants first, ties by image id. The one order of the run's example strips
    and the report's list of most flipped images."""
    return sorted(((image, n) for image, n in counts.items() if n > 0), key=lambda item: (-item[1], item[0]))
