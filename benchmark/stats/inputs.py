"""Validate the long quality/prediction tables and reshape them into per-cell aligned arrays.

Every problem raises ``UserError`` naming the cell, variant and a few offending image ids, because these
tables come from a run the user can redo with fixed inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxr_kernel.errors import UserError
from cxr_kernel.variants import HR

REFERENCE = HR
PREDICTION_COLUMNS = ("cell", "variant", "image_id", "label", "prob")
QUALITY_INPUT_COLUMNS = ("cell", "variant", "image_id", "metric", "value")


@dataclass(frozen=True)
class PredictionCell:
    """Predictions of one cell aligned on image ids: ``probs[variant]`` is (n,) in ``image_ids`` order."""

    image_ids: np.ndarray
    labels: np.ndarray
    variants: list[str]
    probs: dict[str, np.ndarray]


def _examples(values) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:5])
    return shown + (f", ... ({len(values)} in all)" if len(values) > 5 else "")


def _check_columns(frame: pd.DataFrame, required: tuple[str, ...], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise UserError(f"Expected the {name} table as a pandas DataFrame, got {type(frame).__name__}.")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise UserError(
            f"Expected {name} columns {list(required)}, got {list(frame.columns)} (missing {missing}). "
            f"Write the {name} table with these columns."
        )
    empty = [column for column in required if frame[column].isna().any()]
    if empty:
        raise UserError(f"Expected no missing values in the {name} table, got some in columns {empty}.")


def _check_unique(frame: pd.DataFrame, keys: list[str], name: str) -> None:
    duplicated = frame.duplicated(keys, keep=False)
    if duplicated.any():
        first = frame.loc[duplicated, keys].drop_duplicates().head(3).to_dict("records")
        raise UserError(
            f"Expected one {name} row per {tuple(keys)}, got {int(duplicated.sum())} duplicated rows, "
            f"e.g. {first}. Remove the duplicates (was a run appended twice?)."
        )


def _aligned(frame: pd.DataFrame, value: str, cell, what: str) -> pd.DataFrame:
    """Pivot to image_id x variant, raising if any variant lacks some of the cell's image ids."""
    wide = frame.pivot(index="image_id", columns="variant", values=value)
    for variant in wide.columns:
        missing = wide.index[wide[variant].isna()]
        if len(missing):
            raise UserError(
                f"Expected every variant of cell {cell!r} to cover the same images{what}, but variant "
                f"{variant!r} has {len(wide) - len(missing)} of the {len(wide)} image ids; missing "
                f"{_examples(missing)}. Re-run that variant or drop the images from the cell."
            )
    return wide


def _ordered(values) -> list:
    """Distinct values in order of first appearance."""
    return list(pd.unique(pd.Series(list(values), dtype=object)))


def prediction_cells(predictions: pd.DataFrame) -> dict[object, PredictionCell]:
    """Validate ``predictions`` (columns ``PREDICTION_COLUMNS``) and align each cell's variants.

    Variants keep their order of first appearance with ``"HR"`` first.  Raises ``UserError`` for missing
    columns, labels other than 0/1, probabilities outside [0, 1], duplicates, a cell without HR, variants
    covering different image ids, an image with different labels across variants, and a cell without
    at least two images of each class (AUROC and DeLong need both classes).
    """
    _check_columns(predictions, PREDICTION_COLUMNS, "predictions")
    labels = pd.to_numeric(predictions["label"], errors="coerce")
    if not labels.isin([0, 1]).all():
        bad = predictions.loc[~labels.isin([0, 1]), "label"].unique()
        raise UserError(f"Expected labels 0 (normal) or 1 (pneumonia), got {_examples(bad)}. Encode as 0/1.")
    probs = pd.to_numeric(predictions["prob"], errors="coerce").astype(float)
    if not (np.isfinite(probs) & (probs >= 0) & (probs <= 1)).all():
        raise UserError(
            f"Expected probabilities in [0, 1], got min {probs.min():.6g} and max {probs.max():.6g} "
            f"(non-numeric or NaN: {int(probs.isna().sum())}). Store P(pneumonia), not logits."
        )
    frame = predictions.assign(label=labels.astype(np.int64), prob=probs)
    _check_unique(frame, ["cell", "variant", "image_id"], "prediction")
    cells = {}
    for cell in _ordered(frame["cell"]):
        rows = frame[frame["cell"] == cell]
        variants = _ordered(rows["variant"])
        if REFERENCE not in variants:
            raise UserError(
                f"Expected a variant {REFERENCE!r} in cell {cell!r} (the reference), got {variants}. "
                "Classify the HR images too."
            )
        wide = _aligned(rows, "prob", cell, "")
        per_image = rows.groupby("image_id")["label"].nunique()
        if (per_image > 1).any():
            raise UserError(
                f"Expected one label per image in cell {cell!r}, got different labels across variants for "
                f"{_examples(per_image.index[per_image > 1])}. Check the manifest join."
            )
        image_labels = rows.groupby("image_id")["label"].first().reindex(wide.index).to_numpy()
        _check_classes(cell, image_labels)
        variants = [REFERENCE] + [v for v in variants if v != REFERENCE]
        cells[cell] = PredictionCell(
            wide.index.to_numpy(), image_labels, variants, {v: wide[v].to_numpy(np.float64) for v in variants}
        )
    return cells


def _check_classes(cell, labels: np.ndarray) -> None:
    present = np.unique(labels)
    if present.size < 2:
        raise UserError(
            f"AUROC needs both classes; got only label {int(present[0])} in {labels.size} images of cell "
            f"{cell!r}. Include both normal (0) and pneumonia (1) images."
        )
    positives = int(labels.sum())
    if min(positives, labels.size - positives) < 2:
        raise UserError(
            f"Expected at least 2 images of each class in cell {cell!r} (DeLong's variance), got "
            f"{positives} pneumonia and {labels.size - positives} normal. Add images of the rarer class."
        )


def quality_cells(quality: pd.DataFrame) -> dict[object, dict[str, pd.DataFrame]]:
    """Validate ``quality`` (columns ``QUALITY_INPUT_COLUMNS``) and pivot each (cell, metric).

    Returns ``{cell: {metric: image_id x variant table}}``, variants in order of first appearance.
    Values may be +/-inf (PSNR of identical images) but not NaN.  Raises ``UserError`` for missing
    columns, NaN or non-numeric values, HR rows, duplicates and variants covering different images.
    """
    _check_columns(quality, QUALITY_INPUT_COLUMNS, "quality")
    values = pd.to_numeric(quality["value"], errors="coerce")
    if values.isna().any():
        raise UserError(
            f"Expected numeric, non-NaN quality values, got {int(values.isna().sum())} NaN or non-numeric "
            "values. Check the image-quality step."
        )
    if (quality["variant"] == REFERENCE).any():
        raise UserError(
            f"Expected no {REFERENCE!r} rows in the quality table (HR is the reference every variant is "
            f"compared with), got {int((quality['variant'] == REFERENCE).sum())}. Drop them."
        )
    frame = quality.assign(value=values.astype(float))
    _check_unique(frame, ["cell", "variant", "image_id", "metric"], "quality")
    cells: dict[object, dict[str, pd.DataFrame]] = {}
    for cell in _ordered(frame["cell"]):
        rows = frame[frame["cell"] == cell]
        variants = _ordered(rows["variant"])
        cells[cell] = {}
        for metric in _ordered(rows["metric"]):
            wide = _aligned(rows[rows["metric"] == metric], "value", cell, f" for metric {metric!r}")
            cells[cell][metric] = wide[[v for v in variants if v in wide.columns]]
    return cells
