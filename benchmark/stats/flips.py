"""Per-image diagnosis flips: does a variant's predicted label differ from HR's on the same image?

Hand-written (a few comparisons; no library counts this): a flip is ``pred_variant != pred_hr`` with
``pred = prob >= threshold`` (1 = pneumonia).  Flips are relative to HR's prediction, not to the true
label; ``correct_to_wrong`` / ``wrong_to_correct`` then say whether the flip hurt or helped.
"""

from __future__ import annotations

import numpy as np

FLIP_COUNTS = (
    "n",
    "n_flips",
    "flip_rate",
    "normal_to_pneumonia",
    "pneumonia_to_normal",
    "correct_to_wrong",
    "wrong_to_correct",
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
