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
- unit of analysis: with ``clusters`` (image id -> patient id) the patient: intervals come from a
  cluster bootstrap stratified by the classes a patient holds (``clustered.cluster_bootstrap_weights``),
  Wilson intervals use the design effect (Rao-Scott effective counts), and the primary tests are the
  clustered ones below; ``ci_method`` / ``method`` say "cluster".  Without, every image is independent.
- classification: accuracy, sensitivity, specificity, ppv, npv, f1 at each threshold (``n`` = the
  images each is a fraction of: all, pneumonia, normal, called pneumonia, called normal, all); auroc,
  auprc (average precision, as scikit-learn), log_loss, brier, ece (plug-in, 10 equal-width bins) and
  ece_debiased (Kumar et al. 2019's debiased l2 calibration error over 10 equal-mass bins,
  ``classification.ece_debiased``) without a threshold (``threshold`` "").  Proportions (accuracy ...
  npv) get Wilson score intervals (``ci_method`` "wilson", or "wilson-cluster-design-effect"), which
  never have zero width and stay in [0, 1]; F1 and the score metrics a BCa bootstrap interval
  ("stratified-bootstrap-bca" or "cluster-bootstrap-bca": bias correction from the replicates,
  acceleration from the leave-one-image- or leave-one-patient-out jackknife;
  ``intervals.bca_interval``), or with ``bootstrap_ci`` "percentile" a percentile interval
  ("stratified-bootstrap-percentile" or "cluster-bootstrap-percentile"; also a row's fallback, noted,
  where BCa is undefined).  An estimate undefined on the data (PPV without a pneumonia call), or a
  bootstrap interval of zero width (every replicate equal: a constant score), gives NaN bounds and a
  ``note``.
- confusion: tp, fp, tn, fn per (cell, variant, threshold), pneumonia the positive class.
- paired_tests: every non-HR variant against "HR", and every unordered pair of non-HR variants once
  (``variant`` is the later one in the order of first appearance, ``reference`` the earlier, so
  ``difference = variant - reference``), at the fixed threshold (``benchmark.stats.cell_tests``).
  One analytic test per primary hypothesis: "mcnemar" for accuracy, sensitivity (pneumonia images) and
  specificity (normal images) (exact binomial below 25 discordant images, else chi-square with
  continuity correction, statsmodels; clustered: Durkalski et al. 2003, ``method``
  "cluster-durkalski"), CI of the difference by Newcombe's paired hybrid score interval (clustered: on
  Rao-Scott effective counts); ``only_variant_correct`` / ``only_reference_correct`` are the
  discordant counts; "delong" (auroc; fast mid-rank DeLong, Wald CI; clustered: Obuchowski 1997,
  "cluster-obuchowski").  Supplementary: "bootstrap" (accuracy, sensitivity, specificity, brier,
  auroc; BCa (or percentile) CI of the paired bootstrap differences, p by inverting that interval,
  floor 2/(B+1), noted when reached), "wilcoxon" (metric "prob": per-image P(pneumonia), and for pairs
  of non-HR variants every image-quality metric; zero_method "pratt"; the difference is the median of
  the per-image differences with a distribution-free order-statistic CI; ``effect_size`` the
  matched-pairs rank-biserial correlation; images with a non-finite value dropped; clustered: images
  treated as independent, noted), "mcnemar-midp" (McNemar's mid-p test, Fagerland, Lydersen & Laake
  2013, on the McNemar rows' discordant counts, with their interval; clustered: only where no patient
  holds two discordant images).  ``statistic``: McNemar min(b, c) (exact, mid-p) or chi-square, DeLong z,
  Wilcoxon scipy's signed-rank statistic, bootstrap NaN.  Families (``family``, ``family_size``,
  ``assign_families``): "primary" (primary endpoints against HR, per cell), "exploratory" (the same
  tests between non-HR variants, per cell) and "supplementary" (per cell, test, metric and against HR
  or not), each corrected on its own by Holm (``p_adjusted``) and Benjamini-Hochberg
  (``p_adjusted_bh``), statsmodels.  ``note`` explains degenerate cases and is empty otherwise.
- power: per cell and non-HR variant, the smallest accuracy difference to HR that McNemar's test on
  the cell's images detects with 80% power at the observed discordant fraction (Connor 1987,
  ``benchmark.stats.power``).
- non_inferiority (with ``margins``): per cell, non-HR variant and metric with a margin, the
  difference to HR, its two-sided interval (lower limit = one-sided bound at (1 + confidence) / 2),
  one-sided p of inferiority by more than the margin, verdict, and TOST equivalence
  (``benchmark.stats.noninferiority``).
- flips / flipped_images: predicted-label changes of each non-HR variant relative to HR's prediction at
  the fixed threshold; harmful (correct_to_wrong) and helpful (wrong_to_correct) counts and rates per
  image of the cell with Wilson intervals (clustered: on Rao-Scott effective counts); mean |P_variant -
  P_HR| with a BCa (or percentile) bootstrap interval.

Bootstrap: per cell one ``np.random.Generator`` seeded from ``(seed, hash of the cell name)``, so a
cell's numbers do not depend on which other cells are analysed; each replicate resamples the cell's
pneumonia images and its normal images separately (stratified: the class sizes stay those observed;
clustered: the patients of each stratum), once, jointly for all variants (paired bootstrap), as
multinomial counts used as weights.
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

from benchmark.seeding import item_rng
from benchmark.stats import intervals
from benchmark.stats.cell import CellAnalysis
from benchmark.stats.cell_tests import noninferiority_rows, paired_rows, power_row, wilcoxon_row
from benchmark.stats.clustered import cluster_bootstrap_weights
from benchmark.stats.inputs import REFERENCE, prediction_cells, quality_cells
from benchmark.stats.multiplicity import adjust_families
from benchmark.stats.options import checked_options
from benchmark.stats.schema import TABLE_COLUMNS
from benchmark.stats.vocabulary import PRIMARY_ENDPOINTS, PRIMARY_TESTS
from cxr_kernel.errors import UserError

QUALITY_CI_METHOD = "bootstrap-expanded-percentile"
CLUSTER_QUALITY_CI_METHOD = "cluster-bootstrap-expanded-percentile"
#: the families of tests each corrected for multiplicity on its own (``assign_families``), in report order.
MULTIPLICITY_FAMILIES = ("primary", "exploratory", "supplementary")


def _pairs(variants: list[str]) -> list[tuple[str, str]]:
    """(variant, reference) pairs: each non-HR variant vs HR, then each non-HR pair (later vs earlier)."""
    others = [v for v in variants if v != REFERENCE]
    return [(v, REFERENCE) for v in others] + [(later, earlier) for earlier, later in combinations(others, 2)]


def _quality_rows(
    cell,
    tables: dict[str, pd.DataFrame],
    *,
    n_bootstrap: int,
    seed: int,
    confidence: float,
    clusters: dict | None = None,
) -> list[dict]:
    """Summary of each variant's finite per-image values of each metric of one cell (``tables``: metric
    -> image_id x variant), intervals from bootstrap counts over the cell's image ids (every metric's),
    or over its patients when ``clusters`` (image id -> patient) is given."""
    if not tables:
        return []
    images = reduce(pd.Index.union, (wide.index for wide in tables.values()))
    rng = item_rng(seed, "quality-bootstrap", cell)
    if clusters is None:
        weights = intervals.bootstrap_weights(len(images), n_bootstrap, rng)
        method = QUALITY_CI_METHOD
    else:
        patients = _patients_of(cell, images, clusters)
        weights = cluster_bootstrap_weights(np.zeros(len(images)), patients, n_bootstrap, rng)
        method = CLUSTER_QUALITY_CI_METHOD
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
                    "ci_method": method,
                }
            )
    return rows


def _patients_of(cell, image_ids, clusters: dict) -> np.ndarray:
    missing = [image for image in image_ids if image not in clusters]
    if missing:
        raise UserError(
            f"Expected a patient id for every image of cell {cell!r}, got none for {missing[:5]} "
            f"({len(missing)} in all). Fill the manifest's patient_id column or set "
            "stats: {cluster: image}."
        )
    return np.array([str(clusters[image]) for image in image_ids], dtype=object)


def assign_families(
    tests: pd.DataFrame, primary: tuple[str, ...] = PRIMARY_ENDPOINTS, *, across_cells: bool = False
) -> pd.DataFrame:
    """Prespecified families, each corrected on its own (Holm ``p_adjusted``, BH ``p_adjusted_bh``).

    - "primary": the one test of each primary endpoint (``PRIMARY_TESTS``) of every variant against HR,
      per cell (all cells together with ``across_cells``);
    - "exploratory": the same tests between pairs of non-HR variants, per cell;
    - "supplementary": every other test (paired bootstrap, Wilcoxon, tests of non-primary endpoints),
      per (cell, test, metric, against HR or not); they restate hypotheses the primary tests answer.

    ``family_size`` counts the tests with a p-value in the row's family.
    """
    tests = tests.copy()
    primary_pairs = {(PRIMARY_TESTS[endpoint], endpoint) for endpoint in primary}
    is_primary_test = np.array(
        [
            (test, metric) in primary_pairs
            for test, metric in zip(tests["test"], tests["metric"], strict=True)
        ],
        dtype=bool,
    )
    against_hr = (tests["reference"] == REFERENCE).to_numpy()
    tests["family"] = np.where(
        is_primary_test & against_hr, "primary", np.where(is_primary_test, "exploratory", "supplementary")
    )
    cells = tests["cell"].astype(str)
    key = (
        np.where(tests["family"] == "primary", "all cells" if across_cells else cells, cells)
        + "|"
        + tests["family"]
    )
    supplementary = tests["family"] == "supplementary"
    key = np.where(
        supplementary,
        key + "|" + tests["test"] + "|" + tests["metric"] + "|" + np.where(against_hr, "HR", "between"),
        key,
    )
    tests["_family_key"] = key
    tests = adjust_families(tests, ["_family_key"], {"p_adjusted": "holm", "p_adjusted_bh": "bh"})
    sizes = tests.groupby("_family_key")["p_value"].transform(lambda p: int(p.notna().sum()))
    tests["family_size"] = sizes.astype(int)
    return tests.drop(columns="_family_key")


def _cell_analysis(
    cell, data, threshold, confidence, n_bootstrap, seed, clusters, bootstrap_ci
) -> CellAnalysis:
    """One cell's analysis with its own bootstrap rows (per-cell generator; see the module docstring)."""
    rng = item_rng(seed, "bootstrap", cell)
    if clusters is None:
        patients = None
        weights = intervals.stratified_bootstrap_weights(data.labels, n_bootstrap, rng)
    else:
        patients = _patients_of(cell, data.image_ids, clusters)
        weights = cluster_bootstrap_weights(data.labels, patients, n_bootstrap, rng)
    return CellAnalysis(
        cell,
        data,
        threshold=threshold,
        confidence=confidence,
        weights=weights,
        clusters=patients,
        interval=bootstrap_ci,
    )


def classification_table(predictions: pd.DataFrame, options: dict) -> pd.DataFrame:
    """The "classification" table of ``analyze`` alone (same methods, generators and columns), e.g. for
    a sensitivity analysis on a subset of the images. ``options``: ``analyze``'s keyword arguments
    (those of other tables are not used)."""
    keys = ("threshold", "confidence", "n_bootstrap", "seed", "bootstrap_ci")
    checked = checked_options(**{key: options[key] for key in keys})
    rows = []
    for cell, data in prediction_cells(predictions).items():
        analysis = _cell_analysis(
            cell,
            data,
            checked.threshold,
            checked.confidence,
            checked.n_bootstrap,
            checked.seed,
            options["clusters"],
            checked.bootstrap_ci,
        )
        rows += analysis.classification_rows()
    return pd.DataFrame(rows, columns=TABLE_COLUMNS["classification"])


def analyze(
    quality: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    threshold: float = 0.5,
    confidence: float = 0.95,
    n_bootstrap: int = 2000,
    seed: int = 0,
    clusters: dict | None = None,
    margins: dict[str, float] | None = None,
    primary: tuple[str, ...] = PRIMARY_ENDPOINTS,
    correct_across_cells: bool = False,
    bootstrap_ci: str = "bca",
) -> dict[str, pd.DataFrame]:
    """Summarise image quality, classification, paired tests and diagnosis flips per cell.

    Parameters
    ----------
    quality : long table [cell, variant, image_id, metric, value] of per-image image-quality values of
        the non-HR variants against HR; may be empty.
    predictions : long table [cell, variant, image_id, label (1 = pneumonia, 0 = normal), prob
        (P(pneumonia) in [0, 1])]; every cell has variant "HR", and all variants of a cell cover the
        same image ids; may be empty (then only "quality" and the image-quality Wilcoxon tests fill).
    threshold : the fixed decision threshold in (0, 1), prediction = ``prob >= threshold`` (HR's Youden
        threshold is the second one).
    confidence : level of every interval.
    n_bootstrap : bootstrap replicates per cell (100 to 100000).
    seed : seed of the per-cell generators (0 to 2**32 - 1).
    clusters : image id -> patient id; given, the patient is the unit of analysis (cluster bootstrap,
        clustered tests and design-effect Wilson intervals); None: every image independent.
    margins : non-inferiority margin per metric (accuracy, sensitivity, specificity, auroc); adds the
        "non_inferiority" rows.
    primary : primary endpoints (``assign_families``).
    correct_across_cells : one primary family over all cells instead of one per cell.
    bootstrap_ci : "bca" (bias-corrected and accelerated) or "percentile": the bootstrap intervals of
        F1, the score metrics, the paired bootstrap differences (and their p-values) and the mean
        change of P(pneumonia).

    Every option is checked against the limits of a suite's ``stats:`` block
    (``benchmark.stats.options``), and the checked values are used (``"0.5"`` is 0.5).

    Returns
    -------
    dict
        DataFrames "quality", "classification", "confusion", "paired_tests", "flips", "flipped_images",
        "power", "non_inferiority" (empty without margins) with the columns of ``TABLE_COLUMNS``
        (methods in the module docstring).  Raises ``UserError`` for invalid inputs (missing image
        ids, one-class cells, ...).
    """
    checked = checked_options(
        threshold=threshold,
        confidence=confidence,
        n_bootstrap=n_bootstrap,
        seed=seed,
        margins=margins,
        primary=primary,
        correct_across_cells=correct_across_cells,
        bootstrap_ci=bootstrap_ci,
    )
    threshold, confidence = checked.threshold, checked.confidence
    n_bootstrap, seed = checked.n_bootstrap, checked.seed
    margins, primary, bootstrap_ci = dict(checked.margins or {}), checked.primary, checked.bootstrap_ci
    correct_across_cells = checked.correct_across_cells
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
            analysis = _cell_analysis(
                cell, data, threshold, confidence, n_bootstrap, seed, clusters, bootstrap_ci
            )
            rows["classification"] += analysis.classification_rows()
            rows["confusion"] += analysis.confusion_rows()
            for variant, reference in pairs:
                rows["paired_tests"] += paired_rows(analysis, variant, reference)
            for variant in data.variants[1:]:
                summary, images = analysis.flip_rows(variant)
                rows["flips"].append(summary)
                rows["flipped_images"] += images
                rows["non_inferiority"] += noninferiority_rows(analysis, variant, margins)
                rows["power"].append(power_row(analysis, variant))
        rows["quality"] += _quality_rows(
            cell,
            measured.get(cell, {}),
            n_bootstrap=n_bootstrap,
            seed=seed,
            confidence=confidence,
            clusters=clusters,
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
    tables["paired_tests"] = assign_families(
        tables["paired_tests"], tuple(primary), across_cells=correct_across_cells
    )[TABLE_COLUMNS["paired_tests"]]
    return tables
