"""The run's tables: the tidy per-image results table and the summary tables built from it.

Results (``results.parquet`` in a run directory), one row per number measured on one image::

    run     str    run id (``runs/<suite>/<run>``)
    cell    str    degradation cell, e.g. "bicubic-x4"
    model   str    "HR", "LR" or an SR model's name (the report calls it the variant)
    image   str    image id from the manifest
    metric  str    an image-quality metric of the model's output against HR (psnr, ssim, ...; never for
                   HR), "prob" (the classifier's P(pneumonia) for that model's image) or "label" (the
                   image's true class, 1 pneumonia / 0 normal, repeated for every model that has a prob)
    value   float  finite, except +/-inf for PSNR of an image identical to HR

The pipeline writes it with ``write_results``, the report, the regression check and paper exports read
it with ``read_results`` (both validate), and ``analysis_inputs`` turns it into the inputs of
``benchmark.stats.analysis.analyze``.  ``predictions.parquet`` (cell, variant, image_id, label, prob) is
the same prob/label rows in wide form, kept for the report's calibration plots.

Summary tables (``TABLE_COLUMNS``): what ``analyze`` returns, stored in ``summary.json`` under
"tables"; the report and the regression check read them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.stats.flips import FLIP_COUNTS, FLIP_RATES
from benchmark.stats.inputs import PREDICTION_COLUMNS, QUALITY_INPUT_COLUMNS, REFERENCE
from cxr_kernel.atomic import atomic_path
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import RESULTS

RESULTS_FILE = RESULTS
RESULTS_COLUMNS = ("run", "cell", "model", "image", "metric", "value")
CLASSIFIER_METRICS = ("prob", "label")
# results.parquet before the tidy schema (quality rows only, no run column): still readable.
LEGACY_RESULTS_COLUMNS = ("cell", "variant", "image_id", "metric", "value")
YOUDEN_THRESHOLD = "youden-hr"

TABLE_COLUMNS = {
    "quality": ["cell", "variant", "metric", "n", "mean", "std", "median", "ci_low", "ci_high", "ci_method"],
    "classification": [
        "cell",
        "variant",
        "metric",
        "threshold",
        "threshold_value",
        "n",
        "estimate",
        "ci_low",
        "ci_high",
        "ci_method",
        "note",
    ],
    "confusion": ["cell", "variant", "threshold", "threshold_value", "n", "tp", "fp", "tn", "fn"],
    "paired_tests": [
        "cell",
        "variant",
        "reference",
        "test",
        "metric",
        "threshold",
        "method",
        "estimate_variant",
        "estimate_reference",
        "difference",
        "ci_low",
        "ci_high",
        "statistic",
        "effect_size",
        "p_value",
        "p_adjusted",
        "p_adjusted_bh",
        "family",
        "family_size",
        "only_variant_correct",
        "only_reference_correct",
        "n",
        "note",
    ],
    "flips": ["cell", "variant", "threshold", *FLIP_COUNTS, *FLIP_RATES],
    "flipped_images": [
        "cell",
        "variant",
        "image_id",
        "label",
        "prob_hr",
        "prob_variant",
        "pred_hr",
        "pred_variant",
    ],
    "power": [
        "cell",
        "variant",
        "reference",
        "metric",
        "n",
        "discordant_fraction",
        "detectable_difference",
        "power",
        "method",
        "note",
    ],
    "non_inferiority": [
        "cell",
        "variant",
        "reference",
        "metric",
        "margin",
        "n",
        "estimate_variant",
        "estimate_reference",
        "difference",
        "ci_low",
        "ci_high",
        "lower_bound",
        "p_value",
        "verdict",
        "p_equivalence",
        "equivalence",
        "method",
        "note",
    ],
}


def tidy_results(run: str, quality: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """The results table of one run from the analysis inputs (``QUALITY_INPUT_COLUMNS`` rows and
    ``PREDICTION_COLUMNS`` rows), in ``RESULTS_COLUMNS``."""
    measured = quality.loc[:, list(QUALITY_INPUT_COLUMNS)]
    classified = predictions.melt(
        id_vars=["cell", "variant", "image_id"], value_vars=["prob", "label"], var_name="metric"
    )
    frame = pd.concat([measured, classified], ignore_index=True)
    frame = frame.rename(columns={"variant": "model", "image_id": "image"}).assign(run=str(run))
    frame = frame.astype({"cell": str, "model": str, "image": str, "metric": str, "value": np.float64})
    return frame.loc[:, list(RESULTS_COLUMNS)]


def validate_results(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return ``frame`` if it is a valid results table, else raise ``UserError`` naming ``source``.

    Checks the columns (exactly ``RESULTS_COLUMNS``), no missing keys, numeric non-NaN values (inf only
    outside "prob"/"label"), one row per (run, cell, model, image, metric), no image-quality rows for
    HR, labels 0/1 and probabilities in [0, 1].
    """
    fix = "Re-run the suite to rewrite it."
    if list(frame.columns) != list(RESULTS_COLUMNS):
        raise UserError(
            f"Expected columns {list(RESULTS_COLUMNS)} in {source}, got {list(frame.columns)}. {fix}"
        )
    keys = list(RESULTS_COLUMNS[:-1])
    if frame[keys].isna().any().any():
        raise UserError(f"Expected no missing run/cell/model/image/metric in {source}. {fix}")
    values = pd.to_numeric(frame["value"], errors="coerce")
    if values.isna().any():
        raise UserError(
            f"Expected numeric values in {source}, got {int(values.isna().sum())} NaN or text. {fix}"
        )
    duplicated = frame.duplicated(keys)
    if duplicated.any():
        example = frame.loc[duplicated, keys].iloc[0].to_dict()
        raise UserError(
            f"Expected one row per {tuple(keys)} in {source}, got duplicates, e.g. {example}. {fix}"
        )
    metric = frame["metric"]
    problems = {
        "image-quality rows for HR (HR is the reference)": (frame["model"] == REFERENCE)
        & ~metric.isin(CLASSIFIER_METRICS),
        "labels other than 0/1": (metric == "label") & ~values.isin([0, 1]),
        "probabilities outside [0, 1]": (metric == "prob") & ~values.between(0, 1),
    }
    for problem, rows in problems.items():
        if rows.any():
            example = frame.loc[rows].iloc[0].to_dict()
            raise UserError(
                f"Expected no {problem} in {source}, got {int(rows.sum())}, e.g. {example}. {fix}"
            )
    return frame.assign(value=values.astype(np.float64))


def write_results(path: Path, frame: pd.DataFrame) -> Path:
    """Validate the results table and write it atomically to ``path`` (Parquet)."""
    validate_results(frame, str(path))
    with atomic_path(path) as temporary:
        frame.to_parquet(temporary, index=False)
    return Path(path)


def read_results(path: Path) -> pd.DataFrame:
    """Read and validate a results table; a legacy file (``LEGACY_RESULTS_COLUMNS``, image quality
    only) is converted, its run id taken from the directory name."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Expected the results table {path}, but it does not exist. Run the suite first.")
    frame = pd.read_parquet(path)
    if list(frame.columns) == list(LEGACY_RESULTS_COLUMNS):
        frame = tidy_results(path.parent.name, frame, pd.DataFrame(columns=list(PREDICTION_COLUMNS)))
    return validate_results(frame, str(path))


def analysis_inputs(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(quality, predictions)`` for ``analyze`` from a results table of one run, rows in stored order."""
    frame = results.rename(columns={"model": "variant", "image": "image_id"})
    keys = ["cell", "variant", "image_id"]
    quality = frame.loc[~frame["metric"].isin(CLASSIFIER_METRICS), list(QUALITY_INPUT_COLUMNS)]
    probs = frame.loc[frame["metric"] == "prob", [*keys, "value"]].rename(columns={"value": "prob"})
    labels = frame.loc[frame["metric"] == "label", [*keys, "value"]].rename(columns={"value": "label"})
    predictions = probs.merge(labels, on=keys, how="left", sort=False)
    if predictions["label"].isna().any():
        example = predictions.loc[predictions["label"].isna(), keys].iloc[0].to_dict()
        raise UserError(f"Expected a 'label' row for every 'prob' row of the results, none for {example}.")
    predictions = predictions.astype({"label": np.int64}).loc[:, list(PREDICTION_COLUMNS)]
    return quality.reset_index(drop=True), predictions.reset_index(drop=True)


def at_fixed_threshold(records: list[dict]) -> list[dict]:
    """Classification records without the Youden-threshold rows: one row per (cell, variant, metric)."""
    return [r for r in records if r.get("threshold") != YOUDEN_THRESHOLD]
