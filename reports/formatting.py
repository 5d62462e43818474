"""Turn stored numbers into display strings; labels and orderings shared by the page and the TeX tables.

Nothing here computes a statistic: values are only rounded, bracketed or relabelled.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from benchmark.metrics import specs as metric_specs
from benchmark.metrics.spec import CLASSIFICATION, IMAGE_QUALITY
from benchmark.stats.vocabulary import TEST_LABELS
from cxr_kernel import run_layout
from cxr_kernel.variants import REFERENCE_VARIANTS

MISSING = "–"  # en dash for None/NaN, as papers print it
LABEL_NAMES = {0: "normal", 1: "pneumonia"}
# Metric names, labels and directions come from the metric specs (``benchmark.metrics.spec``); a run's
# own stored specs (summary.json "metric_specs") override them when its report is drawn
# (``adopt_metric_specs``), so a metric the run measured is labelled and marked as that run defined it.
CLASSIFICATION_METRICS = tuple(s.name for s in metric_specs(CLASSIFICATION) if s.listed_first)
QUALITY_METRICS = tuple(s.name for s in metric_specs(IMAGE_QUALITY) if s.listed_first)
METRIC_LABELS = {
    **{s.name: s.label for s in metric_specs()},
    "prob": "P(pneumonia)",
    "tp": "TP",
    "fp": "FP",
    "tn": "TN",
    "fn": "FN",
}
# Multiple-comparison corrections by the suffix of their p-value column (`p_adjusted` is Holm).
CORRECTION_LABELS = {
    "": "Holm",
    "holm": "Holm",
    "bh": "BH",
    "fdr_bh": "BH",
    "by": "BY",
    "bonferroni": "Bonferroni",
}
# Which way is better, for marking the best value of a column; metrics not listed are not marked.
HIGHER_IS_BETTER = {*(s.name for s in metric_specs() if s.higher_is_better), "wrong_to_correct", "helpful"}
LOWER_IS_BETTER = {
    *(s.name for s in metric_specs() if not s.higher_is_better),
    *("n_flips", "flip_rate", "correct_to_wrong", "harmful"),
}
# Text columns are left-aligned, numbers right-aligned, in HTML and TeX alike.
TEXT_COLUMNS = {
    *("Cell", "Variant", "Reference", "Test", "Metric", "Note", "Image", "Label", "Prediction", "Device"),
    *("Group", "Measurement", "Comparison", "Ours", "Peer", "Reading"),
}
# Reference variants come before the SR models in every table and figure.
LEADING_VARIANTS = REFERENCE_VARIANTS


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas NA (values the pipeline leaves empty)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def decimals_for(values: Iterable[Any]) -> int:
    """Decimals that show about three significant digits of the largest value (at least 2, at most 6).

    One count per group of comparable numbers (one metric) keeps a column aligned: 0.912 and 0.087,
    31.42 and 28.90, 0.00123 and 0.00098.
    """
    finite = [abs(float(v)) for v in values if not is_missing(v) and math.isfinite(float(v))]
    largest = max(finite, default=0.0)
    if largest == 0.0:
        return 3
    return int(min(6, max(2, 2 - math.floor(math.log10(largest)))))


def fmt_num(value: Any, decimals: int) -> str:
    """Fixed-point number, or the missing marker."""
    if is_missing(value):
        return MISSING
    return f"{float(value):.{decimals}f}"


def fmt_int(value: Any) -> str:
    """Whole count (stored as int or float), or the missing marker."""
    if is_missing(value):
        return MISSING
    return str(int(round(float(value))))


def fmt_ci(estimate: Any, low: Any, high: Any, decimals: int) -> str:
    """`0.912 [0.881, 0.936]`; the interval is left out when both bounds are missing."""
    if is_missing(low) and is_missing(high):
        return fmt_num(estimate, decimals)
    return f"{fmt_num(estimate, decimals)} [{fmt_num(low, decimals)}, {fmt_num(high, decimals)}]"


P_FLOOR = 1e-10  # stored p-values below this (0 included) are beyond the tests' numerical precision


def fmt_p(p: Any) -> str:
    """p-value: three decimals from 0.001, two significant digits below (`4.2e-05`), `<1e-10` below that."""
    if is_missing(p):
        return MISSING
    p = float(p)
    if p < P_FLOOR:
        return f"<{P_FLOOR:.0e}"
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def fmt_percent(fraction: Any) -> str:
    """Stored fraction in [0, 1] shown as a percentage with one decimal."""
    if is_missing(fraction):
        return MISSING
    return f"{100.0 * float(fraction):.1f}%"


def fmt_percent_ci(fraction: Any, low: Any, high: Any) -> str:
    """`12.5% [4.1%, 27.0%]`; the interval is left out when both bounds are missing."""
    if is_missing(low) and is_missing(high):
        return fmt_percent(fraction)
    return f"{fmt_percent(fraction)} [{fmt_percent(low)}, {fmt_percent(high)}]"


def fmt_label(label: Any) -> str:
    """Class index 0/1 as its name."""
    if is_missing(label):
        return MISSING
    return LABEL_NAMES.get(int(label), str(label))


def metric_label(metric: str) -> str:
    """Display name of a metric key (unknown keys pass through)."""
    return METRIC_LABELS.get(metric, metric)


def correction_label(column: str) -> str | None:
    """`p_adjusted` -> "Holm", `p_adjusted_bh` -> "BH"; None for columns that are not adjusted p-values."""
    if not column.startswith("p_adjusted"):
        return None
    suffix = column.removeprefix("p_adjusted").lstrip("_")
    return CORRECTION_LABELS.get(suffix, suffix.upper())


def column_label(column: str) -> str:
    """Display name of a stored column without a special layout (`n_discordant` -> "N discordant")."""
    correction = correction_label(column)
    if correction:
        return f"p ({correction})"
    return METRIC_LABELS.get(column, column.replace("_", " ").capitalize())


def adopt_metric_specs(records: dict[str, dict[str, Any]] | None) -> None:
    """Take the labels and directions a run stored with its results (``MetricSpec.record()`` per name).

    Runs written before specs were stored have none: the installed specs stand.
    """
    for name, record in (records or {}).items():
        if record.get("label"):
            METRIC_LABELS[name] = record["label"]
        if "higher_is_better" in record:
            better, worse = (
                (HIGHER_IS_BETTER, LOWER_IS_BETTER)
                if record["higher_is_better"]
                else (LOWER_IS_BETTER, HIGHER_IS_BETTER)
            )
            better.add(name)
            worse.discard(name)


def better_direction(metric: str) -> int:
    """+1 if higher is better, -1 if lower is better, 0 if unknown (not marked)."""
    return 1 if metric in HIGHER_IS_BETTER else -1 if metric in LOWER_IS_BETTER else 0


def test_label(test: str) -> str:
    """Display name of a paired-test key (unknown keys pass through)."""
    return TEST_LABELS.get(test, test)


def ordered(values: Iterable[Any], preferred: Sequence[Any]) -> list[Any]:
    """Unique values, those in `preferred` first in its order, the rest in order of appearance."""
    unique = [v for v in dict.fromkeys(values) if not is_missing(v)]
    rank = {v: i for i, v in enumerate(preferred)}
    return sorted(unique, key=lambda v: (rank.get(v, len(rank)), unique.index(v)))


def variant_order(variants: Sequence[str]) -> list[str]:
    """HR, LR, then the SR variants in the order the suite lists them (a run's ``variants``)."""
    return list(dict.fromkeys([*LEADING_VARIANTS, *variants]))


def slug(text: str) -> str:
    """``text`` as a figure's file-name part (``run_layout.safe_name``, no leading or trailing '_')."""
    return run_layout.safe_name(text).strip("_") or "cell"
