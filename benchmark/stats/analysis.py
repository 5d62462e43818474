"""One call from the long per-image tables to every summary table the report renders.

Methods (also stated in the tables where a column allows):

- quality: mean/std (ddof=1)/median of the per-image values of each (cell, variant, metric) and a
  Student-t interval of the mean (``ci_method`` "t").  Non-finite values (PSNR = inf for an image
  identical to HR) are left out of all four, and ``n`` counts only the values used.
- classification: prediction = ``prob >= threshold``.  accuracy, sensitivity, specificity with Wilson
  intervals (``n`` = images, pneumonia images, normal images); auroc with the DeLong interval;
  log_loss, brier, ece (10 equal-width bins) with bootstrap percentile intervals.
- paired_tests: every non-HR variant against "HR", and every unordered pair of non-HR variants once
  (``variant`` is the later one in the order of first appearance, ``reference`` the earlier, so
  ``difference = variant - reference``).  Tests: "mcnemar" (accuracy; exact; CI of the accuracy
  difference from the paired bootstrap), "delong" (auroc; Wald CI), "bootstrap" (accuracy and auroc;
  percentile CI, p-value by inverting the percentile interval, see ``paired.bootstrap_p_value``),
  "wilcoxon" (metric "prob": per-image P(pneumonia); and, for pairs of non-HR variants, every
  image-quality metric in ``quality``; zero_method "pratt"; estimates are the medians of each
  variant, the difference is the median of the per-image differences - not the difference of the
  medians - with a distribution-free order-statistic CI; images with a non-finite value are dropped).
  ``statistic``: McNemar the smaller discordant count, DeLong z, Wilcoxon scipy's signed-rank
  statistic, bootstrap NaN.  ``p_adjusted`` is Holm's step-down adjustment (``multiplicity.holm``) within each
  (cell, test, metric) family.  ``note`` explains degenerate cases and is empty otherwise.
- flips / flipped_images: predicted-label changes of each non-HR variant relative to HR's prediction.

Bootstrap: per cell one ``np.random.Generator`` seeded from ``(seed, hash of the cell name)``, so a
cell's numbers do not depend on which other cells are analysed; each replicate resamples the cell's
images once, jointly for all variants (paired bootstrap), as multinomial counts used as weights.
Replicates where a metric is undefined (AUROC of a one-class resample) are dropped.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from benchmark.errors import UserError
from benchmark.metrics import classification as cls
from benchmark.seeding import item_rng
from benchmark.stats import intervals, paired
from benchmark.stats.flips import flip_counts, flip_mask, predicted_labels
from benchmark.stats.inputs import REFERENCE, PredictionCell, prediction_cells, quality_cells
from benchmark.stats.multiplicity import holm
from benchmark.stats.schema import TABLE_COLUMNS

WILCOXON_ZERO_METHOD = "pratt"
ECE_BINS = 10
BOOTSTRAP_METHOD = "bootstrap-percentile"


def _pairs(variants: list[str]) -> list[tuple[str, str]]:
    """(variant, reference) pairs: each non-HR variant vs HR, then each non-HR pair (later vs earlier)."""
    others = [v for v in variants if v != REFERENCE]
    return [(v, REFERENCE) for v in others] + [(later, earlier) for earlier, later in combinations(others, 2)]


def _check_options(threshold: float, confidence: float, n_bootstrap: int, seed: int) -> None:
    if not np.isscalar(threshold) or not 0 <= threshold <= 1:
        raise UserError(f"Expected threshold in [0, 1], got {threshold!r}. Use e.g. 0.5.")
    try:
        intervals.check_confidence(confidence)
    except ValueError as error:
        raise UserError(str(error)) from None
    if not isinstance(n_bootstrap, (int, np.integer)) or n_bootstrap < 1:
        raise UserError(f"Expected n_bootstrap to be a positive int, got {n_bootstrap!r}. Use e.g. 2000.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"Expected seed to be a non-negative int, got {seed!r}.")


def _quality_rows(cell, metric: str, wide: pd.DataFrame, confidence: float) -> list[dict]:
    """Summary of each variant's finite per-image values of one metric (``wide``: image_id x variant)."""
    rows = []
    for variant in wide.columns:
        values = wide[variant].to_numpy()
        values = values[np.isfinite(values)]
        low, high = intervals.t_interval(values, confidence=confidence)
        empty = values.size == 0
        rows.append(
            {
                "cell": cell,
                "variant": variant,
                "metric": metric,
                "n": values.size,
                "mean": np.nan if empty else values.mean(),
                "std": values.std(ddof=1) if values.size > 1 else np.nan,
                "median": np.nan if empty else np.median(values),
                "ci_low": low,
                "ci_high": high,
                "ci_method": "t",
            }
        )
    return rows


class _CellAnalysis:
    """Everything computed from one cell's predictions, with bootstrap replicates shared by all tests."""

    def __init__(self, cell, data: PredictionCell, *, threshold, confidence, weights):
        self.cell, self.data, self.threshold, self.confidence = cell, data, threshold, confidence
        labels, self.replicates = data.labels, {}
        for variant in data.variants:
            probs = data.probs[variant]
            self.replicates[variant] = {
                "accuracy": cls.accuracy(labels, probs, threshold=threshold, weights=weights),
                "auroc": cls.auroc(labels, probs, weights=weights),
                "log_loss": cls.log_loss(labels, probs, weights=weights),
                "brier": cls.brier(labels, probs, weights=weights),
                "ece": cls.ece(labels, probs, n_bins=ECE_BINS, weights=weights),
            }

    def classification_rows(self) -> list[dict]:
        labels, rows = self.data.labels, []
        for variant in self.data.variants:
            probs = self.data.probs[variant]
            correct = predicted_labels(probs, self.threshold) == labels
            for metric, members in (
                ("accuracy", np.ones(labels.size, bool)),
                ("sensitivity", labels == 1),
                ("specificity", labels == 0),
            ):
                hits, n = int(correct[members].sum()), int(members.sum())
                low, high = intervals.wilson_interval(hits, n, confidence=self.confidence)
                rows.append(self._row(variant, metric, n, hits / n, low, high, "wilson"))
            low, high = paired.delong_interval(labels, probs, confidence=self.confidence)
            estimate = cls.auroc(labels, probs)
            rows.append(self._row(variant, "auroc", labels.size, estimate, low, high, "delong"))
            estimates = {
                "log_loss": cls.log_loss(labels, probs),
                "brier": cls.brier(labels, probs),
                "ece": cls.ece(labels, probs, n_bins=ECE_BINS),
            }
            for metric, estimate in estimates.items():
                replicates = self.replicates[variant][metric]
                low, high = intervals.percentile_interval(replicates, confidence=self.confidence)
                rows.append(self._row(variant, metric, labels.size, estimate, low, high, BOOTSTRAP_METHOD))
        return rows

    def _row(self, variant, metric, n, estimate, low, high, method) -> dict:
        return {
            "cell": self.cell,
            "variant": variant,
            "metric": metric,
            "n": n,
            "estimate": float(estimate),
            "ci_low": low,
            "ci_high": high,
            "ci_method": method,
        }

    def paired_rows(self, variant: str, reference: str) -> list[dict]:
        labels, n = self.data.labels, self.data.labels.size
        probs_v, probs_r = self.data.probs[variant], self.data.probs[reference]
        rep_v, rep_r = self.replicates[variant], self.replicates[reference]
        base = {"cell": self.cell, "variant": variant, "reference": reference, "n": n}
        rows = []

        accuracy_v = cls.accuracy(labels, probs_v, threshold=self.threshold)
        accuracy_r = cls.accuracy(labels, probs_r, threshold=self.threshold)
        accuracy_ci = intervals.percentile_interval(
            rep_v["accuracy"] - rep_r["accuracy"], confidence=self.confidence
        )
        correct_v = predicted_labels(probs_v, self.threshold) == labels
        correct_r = predicted_labels(probs_r, self.threshold) == labels
        rows.append(
            _test_row(
                base,
                "mcnemar",
                "accuracy",
                accuracy_v,
                accuracy_r,
                accuracy_ci,
                paired.mcnemar_test(correct_v, correct_r),
            )
        )

        delong = paired.delong_test(labels, probs_v, probs_r, confidence=self.confidence)
        rows.append(
            _test_row(
                base,
                "delong",
                "auroc",
                delong.auc_variant,
                delong.auc_reference,
                (delong.ci_low, delong.ci_high),
                paired.PairedResult(delong.statistic, delong.p_value, delong.note),
            )
        )

        for metric, estimate_v, estimate_r in (
            ("accuracy", accuracy_v, accuracy_r),
            ("auroc", delong.auc_variant, delong.auc_reference),
        ):
            differences = rep_v[metric] - rep_r[metric]
            ci = intervals.percentile_interval(differences, confidence=self.confidence)
            rows.append(
                _test_row(
                    base,
                    "bootstrap",
                    metric,
                    estimate_v,
                    estimate_r,
                    ci,
                    paired.bootstrap_p_value(differences),
                )
            )

        rows.append(_wilcoxon_row(base, "prob", probs_v, probs_r, self.confidence))
        return rows

    def flip_rows(self, variant: str) -> tuple[dict, list[dict]]:
        labels, prob_hr, prob_v = self.data.labels, self.data.probs[REFERENCE], self.data.probs[variant]
        summary = {
            "cell": self.cell,
            "variant": variant,
            **flip_counts(labels, prob_hr, prob_v, threshold=self.threshold),
        }
        flipped = np.flatnonzero(flip_mask(prob_hr, prob_v, threshold=self.threshold))
        images = [
            {
                "cell": self.cell,
                "variant": variant,
                "image_id": self.data.image_ids[i],
                "label": int(labels[i]),
                "prob_hr": float(prob_hr[i]),
                "prob_variant": float(prob_v[i]),
                "pred_hr": int(predicted_labels(prob_hr[i], self.threshold)),
                "pred_variant": int(predicted_labels(prob_v[i], self.threshold)),
            }
            for i in flipped
        ]
        return summary, images


def _test_row(
    base: dict,
    test: str,
    metric: str,
    estimate_v: float,
    estimate_r: float,
    ci: tuple[float, float],
    result: paired.PairedResult,
    difference: float | None = None,
) -> dict:
    return {
        **base,
        "test": test,
        "metric": metric,
        "estimate_variant": float(estimate_v),
        "estimate_reference": float(estimate_r),
        "difference": float(estimate_v - estimate_r) if difference is None else float(difference),
        "ci_low": ci[0],
        "ci_high": ci[1],
        "statistic": result.statistic,
        "p_value": result.p_value,
        "p_adjusted": np.nan,
        "note": result.note,
    }


def _wilcoxon_row(
    base: dict, metric: str, values_v: np.ndarray, values_r: np.ndarray, confidence: float
) -> dict:
    """Wilcoxon row on per-image values; images where either value is non-finite are dropped."""
    finite = np.isfinite(values_v) & np.isfinite(values_r)
    dropped = int((~finite).sum())
    if not finite.any():
        return _test_row(
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
    return _test_row(
        {**base, "n": int(finite.sum())},
        "wilcoxon",
        metric,
        np.median(values_v[finite]),
        np.median(values_r[finite]),
        ci,
        paired.PairedResult(result.statistic, result.p_value, note),
        difference=np.median(differences),
    )


def _holm(tests: pd.DataFrame) -> pd.DataFrame:
    """Fill ``p_adjusted`` with Holm-adjusted p-values within each (cell, test, metric) family."""
    for _, family in tests.groupby(["cell", "test", "metric"], sort=False):
        valid = family.index[family["p_value"].notna()]
        if len(valid):
            tests.loc[valid, "p_adjusted"] = holm(tests.loc[valid, "p_value"].to_numpy())
    return tests


def analyze(
    quality: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    threshold: float = 0.5,
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> dict[str, pd.DataFrame]:
    """Summarise image quality, classification, paired tests and diagnosis flips per cell.

    Parameters
    ----------
    quality : long table [cell, variant, image_id, metric, value] of per-image image-quality values of
        the non-HR variants against HR; may be empty.
    predictions : long table [cell, variant, image_id, label (1 = pneumonia, 0 = normal), prob
        (P(pneumonia) in [0, 1])]; every cell has variant "HR", and all variants of a cell cover the
        same image ids; may be empty (then only "quality" and the image-quality Wilcoxon tests fill).
    threshold : decision threshold, prediction = ``prob >= threshold``.
    confidence : level of every interval.
    n_bootstrap : bootstrap replicates per cell.
    seed : non-negative seed of the per-cell generators.

    Returns
    -------
    dict
        DataFrames "quality", "classification", "paired_tests", "flips", "flipped_images" with the
        columns of ``TABLE_COLUMNS`` (methods in the module docstring).  Raises ``UserError`` for
        invalid inputs (missing image ids, one-class cells, ...).
    """
    _check_options(threshold, confidence, n_bootstrap, seed)
    predicted = prediction_cells(predictions) if len(predictions) else {}
    measured = quality_cells(quality) if len(quality) else {}
    rows: dict[str, list[dict]] = {name: [] for name in TABLE_COLUMNS}
    for cell in list(predicted) + [c for c in measured if c not in predicted]:
        variants = list(predicted[cell].variants) if cell in predicted else []
        for table in measured.get(cell, {}).values():
            variants += [v for v in table.columns if v not in variants]
        pairs = _pairs(variants)
        if cell in predicted:
            data = predicted[cell]
            weights = intervals.bootstrap_weights(
                data.labels.size, n_bootstrap, item_rng(seed, "bootstrap", cell)
            )
            analysis = _CellAnalysis(cell, data, threshold=threshold, confidence=confidence, weights=weights)
            rows["classification"] += analysis.classification_rows()
            for variant, reference in pairs:
                rows["paired_tests"] += analysis.paired_rows(variant, reference)
            for variant in data.variants[1:]:
                summary, images = analysis.flip_rows(variant)
                rows["flips"].append(summary)
                rows["flipped_images"] += images
        for metric, wide in measured.get(cell, {}).items():
            rows["quality"] += _quality_rows(cell, metric, wide, confidence)
            for variant, reference in pairs:
                if variant in wide.columns and reference in wide.columns:
                    base = {"cell": cell, "variant": variant, "reference": reference}
                    rows["paired_tests"].append(
                        _wilcoxon_row(
                            base, metric, wide[variant].to_numpy(), wide[reference].to_numpy(), confidence
                        )
                    )
    tables = {name: pd.DataFrame(rows[name], columns=columns) for name, columns in TABLE_COLUMNS.items()}
    tables["paired_tests"] = _holm(tables["paired_tests"])
    return tables
