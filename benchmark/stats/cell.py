"""Rows of the summary tables for one cell's predictions, with bootstrap replicates shared by all.

``CellAnalysis`` holds one cell's aligned predictions, its two decision thresholds (the fixed one and
HR's Youden threshold) and the stratified bootstrap count rows, and turns them into the
classification, confusion, paired-test and flip rows that ``benchmark.stats.analysis`` collects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from benchmark.metrics import classification as cls
from benchmark.metrics.classification import THRESHOLD_METRICS
from benchmark.stats import intervals, paired
from benchmark.stats.flips import flip_mask, flip_summary, predicted_labels
from benchmark.stats.inputs import REFERENCE, PredictionCell
from benchmark.stats.schema import YOUDEN_THRESHOLD

ECE_BINS = 10
BOOTSTRAP_METHOD = "stratified-bootstrap-percentile"
SCORE_METRICS = ("auroc", "auprc", "log_loss", "brier", "ece")
PAIRED_BOOTSTRAP_METRICS = ("accuracy", "sensitivity", "specificity", "brier", "auroc")
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
    if metric == "ece":
        return cls.ece(labels, probs, n_bins=ECE_BINS, weights=weights)
    return getattr(cls, metric)(labels, probs, weights=weights)


def _fraction_of(metric: str, labels: np.ndarray, predicted: np.ndarray) -> int:
    """How many images a threshold metric is a fraction of (its ``n``)."""
    members = {
        "sensitivity": labels == 1,
        "specificity": labels == 0,
        "ppv": predicted == 1,
        "npv": predicted == 0,
    }
    return int(members[metric].sum()) if metric in members else labels.size


class CellAnalysis:
    """Everything computed from one cell's predictions.

    Parameters
    ----------
    cell : the cell's name.
    data : the cell's aligned predictions (``inputs.prediction_cells``).
    threshold : the fixed decision threshold; paired tests and flips use it.
    confidence : level of every interval.
    weights : (B, n) stratified bootstrap counts, the same rows for every variant (paired).
    """

    def __init__(self, cell, data: PredictionCell, *, threshold: float, confidence: float, weights):
        self.cell, self.data, self.confidence, self.weights = cell, data, confidence, weights
        self.fixed = Threshold(f"{threshold:g}", float(threshold))
        hr_probs = data.probs[REFERENCE]
        self.thresholds = (
            self.fixed,
            Threshold(YOUDEN_THRESHOLD, cls.youden_threshold(data.labels, hr_probs)),
        )

    @cached_property
    def replicates(self) -> dict[tuple[str, str, str], np.ndarray]:
        """(B,) bootstrap replicates per (variant, threshold name, metric); threshold "" for score metrics."""
        labels, weights, out = self.data.labels, self.weights, {}
        for variant in self.data.variants:
            probs = self.data.probs[variant]
            for metric in SCORE_METRICS:
                out[variant, "", metric] = score_metric(metric, labels, probs, weights)
            for threshold in self.thresholds:
                for metric, values in threshold_estimates(labels, probs, threshold.value, weights).items():
                    out[variant, threshold.name, metric] = values
        return out

    def _row(self, variant: str, metric: str, n: int, estimate: float, replicates, threshold) -> dict:
        low, high = intervals.percentile_interval(replicates, confidence=self.confidence)
        if np.isnan(estimate):
            low = high = float("nan")
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
            "ci_method": BOOTSTRAP_METHOD,
        }

    def classification_rows(self) -> list[dict]:
        labels, rows = self.data.labels, []
        for variant in self.data.variants:
            probs = self.data.probs[variant]
            for threshold in self.thresholds:
                predicted = predicted_labels(probs, threshold.value)
                for metric, estimate in threshold_estimates(labels, probs, threshold.value).items():
                    replicates = self.replicates[variant, threshold.name, metric]
                    n = _fraction_of(metric, labels, predicted)
                    rows.append(self._row(variant, metric, n, estimate, replicates, threshold))
            for metric in SCORE_METRICS:
                estimate = score_metric(metric, labels, probs)
                replicates = self.replicates[variant, "", metric]
                rows.append(self._row(variant, metric, labels.size, estimate, replicates, None))
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

    def paired_rows(self, variant: str, reference: str) -> list[dict]:
        labels, n, fixed = self.data.labels, self.data.labels.size, self.fixed
        probs_v, probs_r = self.data.probs[variant], self.data.probs[reference]
        base = {"cell": self.cell, "variant": variant, "reference": reference, "n": n}

        def estimates(metric: str) -> tuple[float, float]:
            if metric in THRESHOLD_METRICS:
                return tuple(threshold_estimates(labels, p, fixed.value)[metric] for p in (probs_v, probs_r))
            return tuple(score_metric(metric, labels, p) for p in (probs_v, probs_r))

        def bootstrap_ci(metric: str) -> tuple[np.ndarray, tuple[float, float]]:
            key = fixed.name if metric in THRESHOLD_METRICS else ""
            differences = self.replicates[variant, key, metric] - self.replicates[reference, key, metric]
            return differences, intervals.percentile_interval(differences, confidence=self.confidence)

        correct_v = predicted_labels(probs_v, fixed.value) == labels
        correct_r = predicted_labels(probs_r, fixed.value) == labels
        mcnemar = paired.mcnemar_test(correct_v, correct_r)
        rows = [
            paired_row(
                base,
                "mcnemar",
                "accuracy",
                *estimates("accuracy"),
                bootstrap_ci("accuracy")[1],
                mcnemar,
                threshold=fixed,
                discordant=(mcnemar.only_variant, mcnemar.only_reference),
            )
        ]
        delong = paired.delong_test(labels, probs_v, probs_r, confidence=self.confidence)
        rows.append(
            paired_row(
                base,
                "delong",
                "auroc",
                delong.auc_variant,
                delong.auc_reference,
                (delong.ci_low, delong.ci_high),
                paired.PairedResult(delong.statistic, delong.p_value, delong.note, "delong-wald"),
            )
        )
        for metric in PAIRED_BOOTSTRAP_METRICS:
            differences, ci = bootstrap_ci(metric)
            result = paired.bootstrap_p_value(differences)
            rows.append(
                paired_row(
                    base,
                    "bootstrap",
                    metric,
                    *estimates(metric),
                    ci,
                    paired.PairedResult(result.statistic, result.p_value, result.note, BOOTSTRAP_METHOD),
                    threshold=fixed if metric in THRESHOLD_METRICS else None,
                )
            )
        rows.append(wilcoxon_row(base, "prob", probs_v, probs_r, self.confidence))
        return rows

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
            ),
        }
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


def paired_row(
    base: dict,
    test: str,
    metric: str,
    estimate_v: float,
    estimate_r: float,
    ci: tuple[float, float],
    result: paired.PairedResult,
    *,
    threshold: Threshold | None = None,
    difference: float | None = None,
    discordant: tuple[float, float] = (np.nan, np.nan),
) -> dict:
    """One row of the paired-tests table (``p_adjusted*`` filled later per family)."""
    return {
        **base,
        "test": test,
        "metric": metric,
        "threshold": "" if threshold is None else threshold.name,
        "method": result.method,
        "estimate_variant": float(estimate_v),
        "estimate_reference": float(estimate_r),
        "difference": float(estimate_v - estimate_r) if difference is None else float(difference),
        "ci_low": ci[0],
        "ci_high": ci[1],
        "statistic": result.statistic,
        "effect_size": result.effect_size,
        "p_value": result.p_value,
        "p_adjusted": np.nan,
        "p_adjusted_bh": np.nan,
        "only_variant_correct": discordant[0],
        "only_reference_correct": discordant[1],
        "note": result.note,
    }


def wilcoxon_row(
    base: dict, metric: str, values_v: np.ndarray, values_r: np.ndarray, confidence: float
) -> dict:
    """Wilcoxon row on per-image values; images where either value is non-finite are dropped."""
    finite = np.isfinite(values_v) & np.isfinite(values_r)
    dropped = int((~finite).sum())
    if not finite.any():
        return paired_row(
            {**base, "n": 0},
            "wilcoxon",
            metric,
            np.nan,
            np.nan,
            (np.nan, np.nan),
            paired.PairedResult(np.nan, np.nan, f"all {dropped} images have non-finite values"),
        )
    differences = values_v[finite] - values_r[finite]
    ci = intervals.median_interval(differences, confidence=confidence)
    result = paired.wilcoxon_test(values_v[finite], values_r[finite], zero_method=WILCOXON_ZERO_METHOD)
    note = "; ".join(
        filter(None, [result.note, f"{dropped} images with non-finite values dropped" if dropped else ""])
    )
    return paired_row(
        {**base, "n": int(finite.sum())},
        "wilcoxon",
        metric,
        np.median(values_v[finite]),
        np.median(values_r[finite]),
        ci,
        paired.PairedResult(result.statistic, result.p_value, note, result.method, result.effect_size),
        difference=np.median(differences),
    )
