"""One call from the long per-image tables to every summary table the report renders.

Methods (also stated in the tables where a column allows):

- quality: mean/std (ddof=1)/median of the per-image values of each (cell, variant, metric) and a
  bootstrap percentile interval of the mean, read at Hesterberg's expanded level so that small n do not
  undercover (``ci_method`` "bootstrap-expanded-percentile", ``intervals.bootstrap_mean_intervals``;
  NaN for fewer than two values).  A percentile interval of a mean lies within the range of the values,
  so bounded metrics keep their range (a Student-t interval can pass 1 for Pearson r or SSIM near 1).
  Non-finite values (PSNR = inf for an image identical to HR) are left out of all four, and of each
  bootstrap replicate, and ``n`` counts only the values used.
- thresholds: prediction = ``prob >= t`` for two thresholds per cell: the fixed ``threshold``
  (``threshold`` column "0.5") and HR's Youden threshold ("youden-hr": the observed HR score that
  maximises sensitivity + specificity - 1, ties to the higher one), chosen on the cell's HR
  predictions and applied unchanged to every variant of the cell.  It is chosen on the test images
  themselves and held fixed in the bootstrap, so its HR numbers are optimistic and its intervals leave
  out the uncertainty of choosing it.  ``threshold_value`` holds the number.
- classification: accuracy, sensitivity, specificity, ppv, npv, f1 at each threshold (``n`` = the
  images each is a fraction of: all, pneumonia, normal, called pneumonia, called normal, all); auroc,
  auprc (average precision, as scikit-learn), log_loss, brier, ece (10 equal-width bins) without a
  threshold (``threshold`` "").  Every interval is a stratified bootstrap percentile interval
  (``ci_method`` "stratified-bootstrap-percentile"); an estimate undefined on the data (PPV without a
  pneumonia call) is NaN with a NaN interval.
- confusion: tp, fp, tn, fn per (cell, variant, threshold), pneumonia the positive class.
- paired_tests: every non-HR variant against "HR", and every unordered pair of non-HR variants once
  (``variant`` is the later one in the order of first appearance, ``reference`` the earlier, so
  ``difference = variant - reference``), at the fixed threshold.  Tests (``method`` says which form):
  "mcnemar" (accuracy; exact binomial when there are fewer than 25 discordant images, else chi-square
  with continuity correction, both statsmodels; ``only_variant_correct`` / ``only_reference_correct``
  are the discordant counts b and c; CI of the accuracy difference from the paired bootstrap),
  "delong" (auroc; fast mid-rank DeLong, Wald CI), "bootstrap" (accuracy, sensitivity, specificity,
  brier, auroc; percentile CI of the paired stratified-bootstrap differences, p-value by inverting the
  percentile interval, see ``paired.bootstrap_p_value``), "wilcoxon" (metric "prob": per-image
  P(pneumonia); and, for pairs of non-HR variants, every image-quality metric in ``quality``;
  zero_method "pratt"; estimates are the medians of each variant, the difference is the median of the
  per-image differences - not the difference of the medians - with a distribution-free order-statistic
  CI; ``effect_size`` is the matched-pairs rank-biserial correlation; images with a non-finite value are
  dropped).  ``statistic``: McNemar min(b, c) (exact) or chi-square, DeLong z, Wilcoxon scipy's
  signed-rank statistic, bootstrap NaN.  ``p_adjusted`` (Holm, family-wise) and ``p_adjusted_bh``
  (Benjamini-Hochberg, false discovery rate), both statsmodels, adjust within each (cell, test, metric)
  family.  ``note`` explains degenerate cases and is empty otherwise.
- flips / flipped_images: predicted-label changes of each non-HR variant relative to HR's prediction
  at the fixed threshold; harmful (correct_to_wrong) and helpful (wrong_to_correct) counts and rates
  per image of the cell with Wilson intervals; mean |P_variant - P_HR| with a bootstrap percentile
  interval.

Bootstrap: per cell one ``np.random.Generator`` seeded from ``(seed, hash of the cell name)``, so a
cell's numbers do not depend on which other cells are analysed; each replicate resamples the cell's
pneumonia images and its normal images separately (stratified: the class sizes stay those observed),
once, jointly for all variants (paired bootstrap), as multinomial counts used as weights.
Replicates where a metric is undefined (PPV without a pneumonia call) are dropped.  The quality
means have their own per-cell generator, seeded from ``(seed, "quality-bootstrap", cell)``, and plain
(unstratified) count rows over the cell's images, shared by every variant and metric of the cell: the
quality table does not know the labels, and its intervals do not change when predictions are added.
"""

from __future__ import annotations

from functools import reduce
from itertools import combinations

import numpy as np
import pandas as pd

from benchmark.errors import UserError
from benchmark.seeding import item_rng
from benchmark.stats import intervals
from benchmark.stats.cell import CellAnalysis, wilcoxon_row
from benchmark.stats.inputs import REFERENCE, prediction_cells, quality_cells
from benchmark.stats.multiplicity import adjust_families
from benchmark.stats.schema import TABLE_COLUMNS

MULTIPLICITY_FAMILY = ["cell", "test", "metric"]
QUALITY_CI_METHOD = "bootstrap-expanded-percentile"


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


def _quality_rows(
    cell, tables: dict[str, pd.DataFrame], *, n_bootstrap: int, seed: int, confidence: float
) -> list[dict]:
    """Summary of each variant's finite per-image values of each metric of one cell (``tables``: metric
    -> image_id x variant), intervals from bootstrap counts over the cell's image ids (every metric's)."""
    if not tables:
        return []
    images = reduce(pd.Index.union, (wide.index for wide in tables.values()))
    weights = intervals.bootstrap_weights(len(images), n_bootstrap, item_rng(seed, "quality-bootstrap", cell))
    rows = []
    for metric, wide in tables.items():
        wide = wide.reindex(images)
        bounds = intervals.bootstrap_mean_intervals(wide.to_numpy(), weights, confidence=confidence)
        for variant, (low, high) in zip(wide.columns, bounds, strict=True):
            values = wide[variant].to_numpy()
            values = values[np.isfinite(values)]
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
                    "ci_method": QUALITY_CI_METHOD,
                }
            )
    return rows


def _adjust(tests: pd.DataFrame) -> pd.DataFrame:
    """Fill ``p_adjusted`` (Holm) and ``p_adjusted_bh`` (Benjamini-Hochberg) within each family."""
    return adjust_families(tests, MULTIPLICITY_FAMILY, {"p_adjusted": "holm", "p_adjusted_bh": "bh"})


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
    threshold : the fixed decision threshold, prediction = ``prob >= threshold`` (HR's Youden threshold
        is the second one).
    confidence : level of every interval.
    n_bootstrap : bootstrap replicates per cell.
    seed : non-negative seed of the per-cell generators.

    Returns
    -------
    dict
        DataFrames "quality", "classification", "confusion", "paired_tests", "flips", "flipped_images"
        with the columns of ``TABLE_COLUMNS`` (methods in the module docstring).  Raises ``UserError``
        for invalid inputs (missing image ids, one-class cells, ...).
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
            weights = intervals.stratified_bootstrap_weights(
                data.labels, n_bootstrap, item_rng(seed, "bootstrap", cell)
            )
            analysis = CellAnalysis(cell, data, threshold=threshold, confidence=confidence, weights=weights)
            rows["classification"] += analysis.classification_rows()
            rows["confusion"] += analysis.confusion_rows()
            for variant, reference in pairs:
                rows["paired_tests"] += analysis.paired_rows(variant, reference)
            for variant in data.variants[1:]:
                summary, images = analysis.flip_rows(variant)
                rows["flips"].append(summary)
                rows["flipped_images"] += images
        rows["quality"] += _quality_rows(
            cell, measured.get(cell, {}), n_bootstrap=n_bootstrap, seed=seed, confidence=confidence
        )
        for metric, wide in measured.get(cell, {}).items():
            for variant, reference in pairs:
                if variant in wide.columns and reference in wide.columns:
                    base = {"cell": cell, "variant": variant, "reference": reference}
                    rows["paired_tests"].append(
                        wilcoxon_row(
                            base, metric, wide[variant].to_numpy(), wide[reference].to_numpy(), confidence
                        )
                    )
    tables = {name: pd.DataFrame(rows[name], columns=columns) for name, columns in TABLE_COLUMNS.items()}
    tables["paired_tests"] = _adjust(tables["paired_tests"])
    return tables
