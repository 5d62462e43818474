"""Statistics for images clustered within patients (several radiographs of one patient).

Hand-written, as neither scipy, statsmodels nor scikit-learn has them:

- ``cluster_bootstrap_weights``: the cluster (patient) bootstrap, stratified by class: patients are
  drawn with replacement within their stratum (all-normal, all-pneumonia, or both), and every image
  weighs as often as its patient was drawn (Davison & Hinkley 1997, sec. 3.8; Field & Welsh 2007).
- ``clustered_mcnemar``: Durkalski, Palesch, Lipsitz & Rust (2003), "Analysis of clustered
  matched-pair data", Stat Med 22:2417, ``X^2 = (sum_k (b_k - c_k))^2 / sum_k (b_k - c_k)^2`` with
  b_k, c_k the discordant counts of patient k, chi-square with 1 df.  With one image per patient it is
  McNemar's uncorrected chi-square (b - c)^2 / (b + c).
- ``clustered_auroc_covariance``: Obuchowski (1997), "Nonparametric analysis of clustered ROC curve
  data", Biometrics 53:567: DeLong's structural components summed per patient, with the between-class
  term S11 that patients holding both classes add.  With one image per patient it is DeLong's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from benchmark.stats.intervals import bootstrap_weights
from benchmark.stats.paired import delong_components


def cluster_codes(clusters: np.ndarray) -> np.ndarray:
    """(n,) integer codes 0..G-1 of the cluster labels, in order of first appearance."""
    _, first, inverse = np.unique(np.asarray(clusters), return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse.ravel()]


def cluster_bootstrap_weights(
    labels: np.ndarray, clusters: np.ndarray, n_bootstrap: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_bootstrap, n) image weights of a cluster bootstrap stratified by the classes a cluster holds.

    Each stratum (clusters with only label 0, only label 1, both) keeps its number of clusters; an
    image's weight is the number of times its cluster was drawn, so every replicate keeps both classes.
    """
    labels, codes = np.asarray(labels), cluster_codes(clusters)
    groups = codes.max() + 1
    has_positive = np.bincount(codes, weights=labels == 1, minlength=groups) > 0
    has_negative = np.bincount(codes, weights=labels == 0, minlength=groups) > 0
    stratum = has_positive.astype(int) + 2 * has_negative.astype(int)
    counts = np.zeros((n_bootstrap, groups))
    for value in np.unique(stratum):
        members = np.flatnonzero(stratum == value)
        counts[:, members] = bootstrap_weights(members.size, n_bootstrap, rng)
    return counts[:, codes]


def max_discordant_per_cluster(
    correct_variant: np.ndarray, correct_reference: np.ndarray, clusters: np.ndarray
) -> int:
    """The most discordant images (exactly one of the two right) any one cluster holds."""
    discordant = np.asarray(correct_variant, bool) != np.asarray(correct_reference, bool)
    counts = np.bincount(cluster_codes(clusters), weights=discordant.astype(float))
    return int(counts.max()) if counts.size else 0


@dataclass(frozen=True)
class ClusteredMcNemar:
    statistic: float
    p_value: float
    only_variant: int
    only_reference: int
    note: str = ""


def clustered_mcnemar(
    correct_variant: np.ndarray, correct_reference: np.ndarray, clusters: np.ndarray
) -> ClusteredMcNemar:
    """Durkalski et al.'s (2003) McNemar test for clustered matched pairs (module docstring).

    Parameters
    ----------
    correct_variant, correct_reference : (n,) bools, whether each image was classified correctly.
    clusters : (n,) patient of each image.
    """
    variant = np.asarray(correct_variant, dtype=bool)
    reference = np.asarray(correct_reference, dtype=bool)
    codes = cluster_codes(clusters)
    only_variant, only_reference = variant & ~reference, ~variant & reference
    per_cluster = np.bincount(codes, weights=only_variant.astype(float)) - np.bincount(
        codes, weights=only_reference.astype(float)
    )
    b, c = int(only_variant.sum()), int(only_reference.sum())
    denominator = float(np.sum(per_cluster**2))
    if b + c == 0:
        return ClusteredMcNemar(0.0, 1.0, 0, 0, "no discordant pairs")
    if per_cluster.size < 2:
        nan = float("nan")
        return ClusteredMcNemar(nan, nan, b, c, "one patient: no between-patient variance, no test")
    if denominator == 0:  # every patient's discordant images cancel: no evidence of a difference
        return ClusteredMcNemar(0.0, 1.0, b, c, "discordant images cancel within every patient")
    statistic = float(per_cluster.sum() ** 2 / denominator)
    return ClusteredMcNemar(statistic, float(stats.chi2.sf(statistic, 1)), b, c)


def clustered_auroc_covariance(
    labels: np.ndarray, scores: np.ndarray, clusters: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs (k,) and Obuchowski's (1997) covariance matrix (k, k) of k score sets on clustered images.

    ``cov = S10 / M + S01 / N + (S11 + S11^T) / (M N)`` with M positive and N negative images,
    ``S10 = I10 / ((I10 - 1) M) sum_i (V10_i - m_i A)(V10_i - m_i A)^T`` over the I10 clusters holding a
    positive (V10_i the sum of the cluster's positive structural components, m_i its positives),
    ``S01`` likewise over the I01 clusters holding a negative, and
    ``S11 = I / (I - 1) sum_i (V10_i - m_i A)(V01_i - n_i A)^T`` over all I clusters.
    """
    labels = np.asarray(labels)
    aucs, positive_components, negative_components = delong_components(labels, scores)
    codes = cluster_codes(clusters)
    groups = codes.max() + 1
    positive = labels == 1
    m_i = np.bincount(codes[positive], minlength=groups).astype(float)
    n_i = np.bincount(codes[~positive], minlength=groups).astype(float)
    sums_10 = np.stack(
        [np.bincount(codes[positive], weights=row, minlength=groups) for row in positive_components]
    )
    sums_01 = np.stack(
        [np.bincount(codes[~positive], weights=row, minlength=groups) for row in negative_components]
    )
    centred_10 = sums_10 - m_i[None, :] * aucs[:, None]
    centred_01 = sums_01 - n_i[None, :] * aucs[:, None]
    big_m, big_n = m_i.sum(), n_i.sum()
    i10, i01 = int((m_i > 0).sum()), int((n_i > 0).sum())
    if i10 < 2 or i01 < 2:  # no between-patient variance of one class: not estimable
        return aucs, np.full((aucs.size, aucs.size), np.nan)
    s10 = i10 / ((i10 - 1) * big_m) * centred_10 @ centred_10.T
    s01 = i01 / ((i01 - 1) * big_n) * centred_01 @ centred_01.T
    s11 = groups / (groups - 1) * centred_10 @ centred_01.T
    covariance = s10 / big_m + s01 / big_n + (s11 + s11.T) / (big_m * big_n)
    return aucs, covariance
