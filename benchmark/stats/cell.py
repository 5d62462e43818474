"""Rows of the summary tables for one cell's predictions, with bootstrap replicates shared by all.

``CellAnalysis`` holds one cell's aligned predictions, its two decision thresholds (the fixed one and
HR's Youden threshold), the patient of each image when the unit of analysis is the patient, and the
(stratified, or patient-cluster) bootstrap count rows, and turns them into the classification,
confusion, flip and non-inferiority rows that ``benchmark.stats.analysis`` collects; the paired-test
rows are in ``benchmark.stats.cell_tests``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from benchmark.metrics import classification as cls
from benchmark.stats import intervals, noninferiority, proportions
from benchmark.stats.flips import flip_mask, flip_summary, predicted_labels
from benchmark.stats.inputs import REFERENCE, PredictionCell
from benchmark.stats.schema import YOUDEN_THRESHOLD
from benchmark.stats.vocabulary import BOOTSTRAP_INTERVALS

ECE_BINS = 10
BOOTSTRAP_METHOD = "stratified-bootstrap-percentile"
CLUSTER_BOOTSTRAP_METHOD = "cluster-bootstrap-percentile"
BCA_METHOD = "stratified-bootstrap-bca"
CLUSTER_BCA_METHOD = "cluster-bootstrap-bca"
BCA_FALLBACK_NOTE = "BCa undefined (the estimate lies outside every replicate): percentile interval"
WILSON_METHOD = "wilson"
CLUSTER_WILSON_METHOD = "wilson-cluster-design-effect"
# Threshold metrics that are one proportion of images (F1 is not): Wilson intervals.
PROPORTION_METRICS = (*noninferiority.PAIRED_PROPORTION_METRICS, "ppv", "npv")
# Below this many patients in a class the patient bootstrap's percentile intervals undercover (0.81-0.87
# with 7 patients in benchmarks/cluster_coverage.py); such rows say so.
FEW_PATIENTS = 10
SCORE_METRICS = cls.SCORE_METRICS  # from the metric specs (benchmark.metrics.classification)
WILCOXON_ZERO_METHOD = "pratt"


@dataclass(frozen=True)
class Threshold:
    """A named decision threshold: prediction = ``prob >= value``."""

    name: str
    value: float


def threshold_estimates(labels, probs, threshold: float, weights=None) -> dict[str, float | np.ndarray]:
    """Every threshold metric: (B,) replicates for (B, n) ``weights``; without weights the plain
    estimates as floats, NaN where a metric is undefined (PPV without a pneumonia call)."""
    if weights is not None:
        return cls.threshold_metrics(labels, probs, threshold=threshold, weights=weights)
    ones = np.ones((1, np.asarray(labels).size))  # one row: NaN instead of an error when undefined
    rows = cls.threshold_metrics(labels, probs, threshold=threshold, weights=ones)
    return {metric: float(values[0]) for metric, values in rows.items()}


def score_metric(metric: str, labels, probs, weights=None):
    if metric in ("ece", "ece_debiased"):
        return getattr(cls, metric)(labels, probs, n_bins=ECE_BINS, weights=weights)
    return getattr(cls, metric)(labels, probs, weights=weights)


def members_of(metric: str, labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(n,) bool: the images a threshold metric is a fraction of (all for accuracy and F1)."""
    members = {
        "sensitivity": labels == 1,
        "specificity": labels == 0,
        "ppv": predicted == 1,
        "npv": predicted == 0,
    }
    return members.get(metric, np.ones(labels.size, dtype=bool))


def _fraction_of(metric: str, labels: np.ndarray, predicted: np.ndarray) -> int:
    """How many images a threshold metric is a fraction of (its ``n``)."""
    return int(members_of(metric, labels, predicted).sum())


class CellAnalysis:
    """Everything computed from one cell's predictions.

    Parameters
    ----------
    cell : the cell's name.
    data : the cell's aligned predictions (``inputs.prediction_cells``).
    threshold : the fixed decision threshold; paired tests and flips use it.
    confidence : level of every interval.
    weights : (B, n) bootstrap counts, the same rows for every variant (paired): stratified by class,
        or patient-cluster rows (``clustered.cluster_bootstrap_weights``) when ``clusters`` is given.
    clusters : (n,) patient of each image, or None when images are the unit of analysis.
    interval : "bca" (bootstrap intervals bias-corrected and accelerated, the acceleration from the
        leave-one-image-out, or leave-one-patient-out, jackknife) or "percentile".
    """

    def __init__(
        self,
        cell,
        data: PredictionCell,
        *,
        threshold: float,
        confidence: float,
        weights,
        clusters: np.ndarray | None = None,
        interval: str = "bca",
    ):
        if interval not in BOOTSTRAP_INTERVALS:
            raise ValueError(f"Expected interval among {BOOTSTRAP_INTERVALS}, got {interval!r}.")
        self.cell, self.data, self.confidence, self.weights = cell, data, confidence, weights
        self.clusters = None if clusters is None else np.asarray(clusters)
        self.interval = interval
        self.percentile_method = BOOTSTRAP_METHOD if clusters is None else CLUSTER_BOOTSTRAP_METHOD
        bca_method = BCA_METHOD if clusters is None else CLUSTER_BCA_METHOD
        self.bootstrap_method = bca_method if interval == "bca" else self.percentile_method
        self.fixed = Threshold(f"{threshold:g}", float(threshold))
        hr_probs = data.probs[REFERENCE]
        self.thresholds = (
            self.fixed,
            Threshold(YOUDEN_THRESHOLD, cls.youden_threshold(data.labels, hr_probs)),
        )

    @cached_property
    def replicates(self) -> dict[tuple[str, str, str], np.ndarray]:
        """(B,) bootstrap replicates per (variant, threshold name, metric); threshold "" for score metrics."""
        return self._weighted_values(self.weights)

    @cached_property
    def jackknife(self) -> dict[tuple[str, str, str], np.ndarray]:
        """Leave-one-image-out (clustered: leave-one-patient-out) values, keyed as ``replicates``."""
        return self._weighted_values(self.jackknife_weights)

    @cached_property
    def jackknife_weights(self) -> np.ndarray:
        """(G, n) rows leaving out one image (clustered: one patient) each."""
        return intervals.jackknife_weights(self.data.labels.size, self.clusters)

    def bootstrap_interval(self, replicates, estimate: float, jackknife) -> tuple[float, float, str, str]:
        """(low, high, ci_method, note) of the cell's bootstrap interval: BCa, or percentile when so
        configured or when BCa is undefined (said in the note)."""
        if self.interval == "bca":
            low, high = intervals.bca_interval(replicates, estimate, jackknife, confidence=self.confidence)
            if not (np.isnan(low) and np.isfinite(estimate) and np.any(~np.isnan(replicates))):
                return low, high, self.bootstrap_method, ""
            note = BCA_FALLBACK_NOTE
        else:
            note = ""
        low, high = intervals.percentile_interval(replicates, confidence=self.confidence)
        return low, high, self.percentile_method, note

    def _weighted_values(self, weights) -> dict[tuple[str, str, str], np.ndarray]:
        labels, out = self.data.labels, {}
        for variant in self.data.variants:
            probs = self.data.probs[variant]
            for metric in SCORE_METRICS:
                out[variant, "", metric] = score_metric(metric, labels, probs, weights)
            for threshold in self.thresholds:
                for metric, values in threshold_estimates(labels, probs, threshold.value, weights).items():
                    out[variant, threshold.name, metric] = values
        return out

    @cached_property
    def fewest_patients(self) -> int:
        """Patients in the class with fewer of them (images when images are the unit)."""
        labels = self.data.labels
        if self.clusters is None:
            return int(min(np.sum(labels == 0), np.sum(labels == 1)))
        return int(min(len(set(self.clusters[labels == c])) for c in (0, 1)))

    def deff(self, values: np.ndarray, members: np.ndarray | None = None) -> float:
        """Design effect of the mean of per-image ``values`` (over ``members``) under the clusters."""
        if self.clusters is None:
            return 1.0
        members = np.ones(values.size, dtype=bool) if members is None else members
        return proportions.design_effect(values[members], self.clusters[members])

    def _proportion_interval(self, metric: str, probs, threshold: Threshold) -> tuple[float, float, str, str]:
        """Wilson interval (with the clusters' design effect) of a proportion metric, and its method."""
        labels = self.data.labels
        predicted = predicted_labels(probs, threshold.value)
        members = members_of(metric, labels, predicted)
        hits = (
            (predicted == labels)
            if metric in ("accuracy", "sensitivity", "specificity")
            else (labels == 1 if metric == "ppv" else labels == 0)
        )
        n = int(members.sum())
        method = WILSON_METHOD if self.clusters is None else CLUSTER_WILSON_METHOD
        if n == 0:
            return float("nan"), float("nan"), method, ""
        deff = self.deff(hits.astype(float), members)
        if not np.isfinite(deff):
            return float("nan"), float("nan"), method, "one patient: no between-patient variance, no interval"
        low, high = proportions.wilson_interval(
            int(hits[members].sum()), n, confidence=self.confidence, deff=deff
        )
        return low, high, method, ""

    def _row(self, variant: str, metric: str, n: int, estimate: float, threshold, probs=None) -> dict:
        note = ""
        if metric in PROPORTION_METRICS:
            low, high, method, note = self._proportion_interval(metric, probs, threshold)
        else:
            key = (variant, "" if threshold is None else threshold.name, metric)
            low, high, method, note = self.bootstrap_interval(
                self.replicates[key], estimate, self.jackknife[key]
            )
            if not np.isnan(estimate) and low == high:
                # Every replicate equal (a constant score, F1 of no pneumonia call): no interval
                # rather than one of zero width claiming no uncertainty.
                low = high = float("nan")
                note = "degenerate: every bootstrap replicate is equal (e.g. a constant score); no interval"
        if np.isnan(estimate):
            low = high = float("nan")
            note = note or "undefined on these images"
        elif method.startswith("cluster-bootstrap") and not note and self.fewest_patients < FEW_PATIENTS:
            note = (
                f"{self.fewest_patients} patients in the smaller class: a cluster bootstrap interval "
                "undercovers with so few (docs/statistics.md)"
            )
        return {
            "cell": self.cell,
            "variant": variant,
            "metric": metric,
            "threshold": "" if threshold is None else threshold.name,
            "threshold_value": np.nan if threshold is None else threshold.value,
            "n": n,
            "estimate": estimate,
            "ci_low": low,
            "ci_high": high,
            "ci_method": method,
            "note": note,
        }

    def classification_rows(self) -> list[dict]:
        labels, rows = self.data.labels, []
        for variant in self.data.variants:
            probs = self.data.probs[variant]
            for threshold in self.thresholds:
                predicted = predicted_labels(probs, threshold.value)
                for metric, estimate in threshold_estimates(labels, probs, threshold.value).items():
                    n = _fraction_of(metric, labels, predicted)
                    rows.append(self._row(variant, metric, n, estimate, threshold, probs))
            for metric in SCORE_METRICS:
                estimate = score_metric(metric, labels, probs)
                rows.append(self._row(variant, metric, labels.size, estimate, None))
        return rows

    def confusion_rows(self) -> list[dict]:
        return [
            {
                "cell": self.cell,
                "variant": variant,
                "threshold": threshold.name,
                "threshold_value": threshold.value,
                "n": self.data.labels.size,
                **cls.confusion_counts(self.data.labels, self.data.probs[variant], threshold=threshold.value),
            }
            for variant in self.data.variants
            for threshold in self.thresholds
        ]

    def flip_rows(self, variant: str) -> tuple[dict, list[dict]]:
        labels, fixed = self.data.labels, self.fixed
        prob_hr, prob_v = self.data.probs[REFERENCE], self.data.probs[variant]
        summary = {
            "cell": self.cell,
            "variant": variant,
            "threshold": fixed.name,
            **flip_summary(
                labels,
                prob_hr,
                prob_v,
                threshold=fixed.value,
                weights=self.weights,
                confidence=self.confidence,
                jackknife_weights=self.jackknife_weights if self.interval == "bca" else None,
            ),
        }
        if self.clusters is not None:
            self._cluster_flip_intervals(summary, labels, prob_hr, prob_v)
        flipped = np.flatnonzero(flip_mask(prob_hr, prob_v, threshold=fixed.value))
        images = [
            {
                "cell": self.cell,
                "variant": variant,
                "image_id": self.data.image_ids[i],
                "label": int(labels[i]),
                "prob_hr": float(prob_hr[i]),
                "prob_variant": float(prob_v[i]),
                "pred_hr": int(predicted_labels(prob_hr[i], fixed.value)),
                "pred_variant": int(predicted_labels(prob_v[i], fixed.value)),
            }
            for i in flipped
        ]
        return summary, images

    def _cluster_flip_intervals(self, summary: dict, labels, prob_hr, prob_v) -> None:
        """Replace the flip, harmful and helpful rates' Wilson intervals by design-effect ones."""
        threshold = self.fixed.value
        flipped = flip_mask(prob_hr, prob_v, threshold=threshold)
        hr_correct = predicted_labels(prob_hr, threshold) == labels
        for name, indicator in (
            ("flip_rate", flipped),
            ("harmful", flipped & hr_correct),
            ("helpful", flipped & ~hr_correct),
        ):
            deff = self.deff(indicator.astype(float))
            if np.isfinite(deff):
                low, high = proportions.wilson_interval(
                    int(indicator.sum()), indicator.size, confidence=self.confidence, deff=deff
                )
            else:
                low = high = float("nan")
            summary[f"{name}_ci_low"], summary[f"{name}_ci_high"] = low, high
