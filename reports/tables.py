"""Display tables built from the stored summary records.

Each `*_frame` function returns a DataFrame of display strings (first columns "Cell", "Variant") that
both the HTML page and the TeX files use, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from benchmark.stats.schema import TABLE_COLUMNS
from reports.formatting import (
    CLASSIFICATION_METRICS,
    MISSING,
    QUALITY_METRICS,
    TEXT_COLUMNS,
    column_label,
    correction_label,
    decimals_for,
    fmt_ci,
    fmt_int,
    fmt_label,
    fmt_num,
    fmt_p,
    fmt_percent_ci,
    is_missing,
    metric_label,
    ordered,
    test_label,
)
from reports.precision import column_decimals, fmt_interval

# Columns holding a record's numbers, never a qualifier that splits records of one metric.
VALUE_COLUMNS = {"n", "estimate", "mean", "std", "median", "ci_low", "ci_high", "ci_method", "se"}


def records_frame(records: Sequence[dict[str, Any]] | None, table: str) -> pd.DataFrame:
    """Stored records as a DataFrame with the schema's columns first (extra columns kept after)."""
    frame = pd.DataFrame(list(records or []))
    known = TABLE_COLUMNS.get(table, [])
    columns = known + [c for c in frame.columns if c not in known]
    return frame.reindex(columns=columns)


def _ordered_groups(
    frame: pd.DataFrame, keys: list[str], preferred: list[Sequence[Any]]
) -> list[tuple[tuple[Any, ...], list[dict[str, Any]]]]:
    """Records grouped by `keys`, each level sorted by `ordered` with its preferred order.

    Returns (key tuple, records of that group in stored order) pairs.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in frame.to_dict("records"):
        key = tuple(record[k] for k in keys)
        if not any(is_missing(v) for v in key):
            groups.setdefault(key, []).append(record)
    rank = [
        {v: i for i, v in enumerate(ordered(frame[k], pref))} for k, pref in zip(keys, preferred, strict=True)
    ]
    return sorted(groups.items(), key=lambda item: tuple(r[v] for r, v in zip(rank, item[0], strict=True)))


def _digits_by(frame: pd.DataFrame, by: list[str], columns: list[str]) -> dict[Any, int]:
    """Decimals per group (e.g. per metric), from all values of `columns` in that group."""
    return {
        key: decimals_for(group[columns].to_numpy().ravel())
        for key, group in frame.groupby(by if len(by) > 1 else by[0], sort=False)
    }


def qualifiers(frame: pd.DataFrame, keys: Sequence[str] = ("cell", "variant", "metric")) -> list[str]:
    """Columns that tell apart records sharing `keys`, e.g. a decision `threshold` (0.5 and HR-Youden).

    Read from the records, not from a fixed list, so a table that gains such a column shows it.
    """
    candidates = [c for c in frame.columns if c not in (*keys, *VALUE_COLUMNS)]
    if frame.empty or not candidates:
        return []
    grouped = frame.astype({c: str for c in candidates}).where(~blank(frame)).groupby(list(keys))
    return [c for c in candidates if grouped[c].nunique(dropna=True).gt(1).any()]


def blank(frame: pd.DataFrame) -> pd.DataFrame:
    """True where a value is missing or an empty string (how records store "no threshold")."""
    return frame.isna() | frame.astype(str).eq("")


def qualifier_settings(group: list[dict[str, Any]], names: list[str]) -> list[tuple[list[dict], tuple]]:
    """Split one (cell, variant) group by its qualifier values, in stored order.

    Records without a qualifier value (AUROC needs no threshold) belong to every setting.
    """
    shared = [r for r in group if all(is_missing(r[q]) or r[q] == "" for q in names)]
    settings = list(dict.fromkeys(tuple(r[q] for q in names) for r in group if r not in shared)) or [()]
    return [
        (shared + [r for r in group if r not in shared and tuple(r[q] for q in names) == s], s)
        for s in settings
    ]


def fmt_value(value: Any) -> str:
    """A stored value of a column without a special layout: counts as integers, numbers with 3 digits."""
    if is_missing(value):
        return fmt_num(None, 0)
    if isinstance(value, bool | str):
        return str(value)
    if float(value).is_integer() and abs(float(value)) >= 1:
        return str(int(value))
    return f"{float(value):.3g}"


def extra_cells(record: dict[str, Any], shown: set[str]) -> dict[str, str]:
    """Display cells for the stored columns a layout does not name (new columns appear, never vanish).

    `x` (or `x_rate`), `x_ci_low`, `x_ci_high` become one `x [low, high]` cell; `p_*` columns are p-values.
    """
    cells = {}
    for column, value in record.items():
        if column in shown or column.endswith(("_ci_low", "_ci_high")):
            continue
        base = column if f"{column}_ci_low" in record else column.removesuffix("_rate")  # harmful_rate
        low, high = record.get(f"{base}_ci_low"), record.get(f"{base}_ci_high")
        if column.startswith("p_"):
            cells[column_label(column)] = fmt_p(value)
        elif low is not None or high is not None:
            cells[column_label(column)] = fmt_ci(value, low, high, decimals_for([value, low, high]))
        else:
            cells[column_label(column)] = fmt_value(value)
    return cells


def _metric_matrix(
    records: Sequence[dict[str, Any]],
    table: str,
    value: str,
    metrics_first: Sequence[str],
    variants: Sequence[str],
) -> pd.DataFrame:
    """Rows (cell, variant[, qualifiers]), one column per metric holding `value [ci_low, ci_high]`.

    Each metric's decimals tell its values apart (`reports.precision`); the images each metric counts
    are in `n_note`, not in a column.
    """
    frame = records_frame(records, table)
    metrics = ordered(frame["metric"], metrics_first)
    digits = {
        m: column_decimals(group[["cell", value, "ci_low", "ci_high"]].itertuples(index=False))
        for m, group in frame.groupby("metric", sort=False)
    }
    names = qualifiers(frame)
    rows = []
    for (cell, variant), group in _ordered_groups(frame, ["cell", "variant"], [[], variants]):
        for chosen, setting in qualifier_settings(group, names):
            by_metric: dict[str, dict[str, Any]] = {}
            for r in chosen:
                by_metric.setdefault(r["metric"], r)
            row = {
                "Cell": cell,
                "Variant": variant,
                **{column_label(q): fmt_value(v) for q, v in zip(names, setting, strict=True)},
            }
            for metric in metrics:
                r = by_metric.get(metric)
                row[metric_label(metric)] = (
                    fmt_interval(r[value], r["ci_low"], r["ci_high"], digits[metric])
                    if r
                    else fmt_num(None, 0)
                )
            rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def n_note(records: Sequence[dict[str, Any]]) -> str:
    """The images each metric counts, as stored: `n: Accuracy 200, Sensitivity 107, Specificity 93`."""
    frame = pd.DataFrame(list(records or [])).reindex(columns=["metric", "n"]).dropna()
    parts = []
    for metric in ordered(frame["metric"], [*CLASSIFICATION_METRICS, *QUALITY_METRICS]):
        counts = sorted({int(n) for n in frame.loc[frame["metric"] == metric, "n"]})
        shown = str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"
        parts.append(f"{metric_label(metric)} {shown}")
    return f"n (images counted): {', '.join(parts)}" if parts else ""


def classification_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Classification metrics per (cell, variant): `estimate [CI]`."""
    # Records at several thresholds (fixed and HR-Youden) become one row each, with a threshold column.
    return _metric_matrix(records, "classification", "estimate", CLASSIFICATION_METRICS, variants)


def quality_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Image-quality metrics per (cell, variant): `mean [CI]`."""
    return _metric_matrix(records, "quality", "mean", QUALITY_METRICS, variants)


def paired_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Paired tests, tests against HR first, with raw and every stored adjusted p-value."""
    frame = records_frame(records, "paired_tests")
    estimate_digits = _digits_by(frame, ["test", "metric"], ["estimate_variant", "estimate_reference"])
    difference_digits = _digits_by(frame, ["test", "metric"], ["difference", "ci_low", "ci_high"])
    statistic_digits = _digits_by(frame, ["test"], ["statistic"])
    adjusted = [c for c in frame.columns if correction_label(c)]
    shown = {*TABLE_COLUMNS["paired_tests"], *adjusted}
    rows = []
    keys = ["cell", "reference", "variant"]
    for (cell, reference, variant), group in _ordered_groups(frame, keys, [[], variants, variants]):
        for r in group:
            digits = estimate_digits.get((r["test"], r["metric"]), 3)
            rows.append(
                {
                    "Cell": cell,
                    "Variant": variant,
                    "Reference": reference,
                    "Test": test_label(r["test"]),
                    "Metric": metric_label(r["metric"]),
                    "Variant est.": fmt_num(r["estimate_variant"], digits),
                    "Reference est.": fmt_num(r["estimate_reference"], digits),
                    "Difference [CI]": fmt_ci(
                        r["difference"],
                        r["ci_low"],
                        r["ci_high"],
                        difference_digits.get((r["test"], r["metric"]), 3),
                    ),
                    "Statistic": fmt_num(r["statistic"], statistic_digits.get(r["test"], 3)),
                    "p": fmt_p(r["p_value"]),
                    **{column_label(c): fmt_p(r[c]) for c in adjusted},
                    "n": fmt_int(r["n"]),
                    **extra_cells(r, shown),
                    "Note": "" if is_missing(r["note"]) else " ".join(str(r["note"]).split()),
                }
            )
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


FLIP_LAYOUT = {
    "normal_to_pneumonia": "normal → pneumonia",
    "pneumonia_to_normal": "pneumonia → normal",
    "correct_to_wrong": "correct → wrong",
    "wrong_to_correct": "wrong → correct",
}


def flips_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Prediction flips against HR per (cell, variant), counts as stored (and any further stored column)."""
    frame = records_frame(records, "flips")
    shown = {
        "cell",
        "variant",
        "n",
        "n_flips",
        "flip_rate",
        "flip_rate_ci_low",
        "flip_rate_ci_high",
        *FLIP_LAYOUT,
    }
    rows = [
        {
            "Cell": cell,
            "Variant": variant,
            "n": fmt_int(r["n"]),
            "Flips": fmt_int(r["n_flips"]),
            "Flip rate": fmt_percent_ci(
                r["flip_rate"], r.get("flip_rate_ci_low"), r.get("flip_rate_ci_high")
            ),
            **{label: fmt_int(r[key]) for key, label in FLIP_LAYOUT.items() if key in r},
            **extra_cells(r, shown),
        }
        for (cell, variant), group in _ordered_groups(frame, ["cell", "variant"], [[], variants])
        for r in group
    ]
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def generic_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Display strings of a table the report has no layout for (e.g. one added by a newer analysis)."""
    return pd.DataFrame([{"Cell": r.get("cell"), **extra_cells(r, {"cell"})} for r in records])


def flipped_images_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """One row per image whose predicted class differs from its HR prediction."""
    frame = records_frame(records, "flipped_images")
    rows = [
        {
            "Cell": cell,
            "Variant": variant,
            "Image": str(r["image_id"]),
            "Label": fmt_label(r["label"]),
            "P(HR)": fmt_num(r["prob_hr"], 3),
            "P(variant)": fmt_num(r["prob_variant"], 3),
            "Prediction": f"{fmt_label(r['pred_hr'])} → {fmt_label(r['pred_variant'])}",
        }
        for (cell, variant), group in _ordered_groups(frame, ["cell", "variant"], [[], variants])
        for r in sorted(group, key=lambda r: str(r["image_id"]))
    ]
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def throughput_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Stored SR throughput (images per second) per (cell, variant)."""
    frame = pd.DataFrame(list(records or [])).reindex(columns=["cell", "variant", "images_per_s", "device"])
    digits = decimals_for(frame["images_per_s"])
    rows = [
        {
            "Cell": cell,
            "Variant": variant,
            "Images/s": fmt_num(r["images_per_s"], digits),
            "Device": "" if is_missing(r["device"]) else str(r["device"]),
        }
        for (cell, variant), group in _ordered_groups(frame, ["cell", "variant"], [[], variants])
        for r in group
    ]
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def perf_figures_frame(perf: dict[str, Any] | None) -> pd.DataFrame:
    """Measured images/s and peak memory of `perf.json` (``python -m benchmark perf --out RUN``)."""
    figures = pd.DataFrame((perf or {}).get("figures") or []).reindex(
        columns=["group", "name", "images_per_s", "peak_traced_mb", "max_rss_mb", "cuda_peak_mb"]
    )
    digits = decimals_for(figures["images_per_s"])
    rows = [
        {
            "Group": str(r["group"]),
            "Measurement": str(r["name"]),
            "Images/s": fmt_num(r["images_per_s"], digits),
            "Traced MB": fmt_num(r["peak_traced_mb"], 1),
            "Max RSS MB": fmt_num(r["max_rss_mb"], 1),
            "CUDA MB": fmt_num(r["cuda_peak_mb"], 1),
        }
        for r in figures.to_dict("records")
    ]
    return pd.DataFrame(rows)


def _fmt_scientific(value: Any) -> str:
    return MISSING if is_missing(value) else f"{float(value):.1e}"


def perf_ratios_frame(perf: dict[str, Any] | None) -> pd.DataFrame:
    """Ours-over-peer speed ratios of `perf.json`, with the largest difference of the values computed."""
    ratios = pd.DataFrame((perf or {}).get("ratios") or []).reindex(
        columns=["name", "ratio", "ours", "peer", "max_abs_difference"]
    )
    rows = [
        {
            "Comparison": str(r["name"]),
            "Ratio (ours / peer)": fmt_num(r["ratio"], 2),
            "Ours": str(r["ours"]),
            "Peer": str(r["peer"]),
            "Max |difference|": _fmt_scientific(r["max_abs_difference"]),
        }
        for r in ratios.to_dict("records")
    ]
    return pd.DataFrame(rows)


def ci_note(records: Sequence[dict[str, Any]]) -> str:
    """Which stored CI method applies to which metric, e.g. `wilson (accuracy); bootstrap (auroc)`."""
    frame = pd.DataFrame(list(records or [])).reindex(columns=["metric", "ci_method"]).dropna()
    parts = []
    for method in ordered(frame["ci_method"], []):
        metrics = ordered(frame.loc[frame["ci_method"] == method, "metric"], [])
        parts.append(f"{method} ({', '.join(metric_label(m) for m in metrics)})")
    return "; ".join(parts)


def noninferiority_frame(records: Sequence[dict[str, Any]], variants: Sequence[str] = ()) -> pd.DataFrame:
    """Display strings of the non-inferiority table: one row per (cell, variant, metric).

    Difference [CI] to HR, the one-sided lower bound against -margin, the p of inferiority by more than
    the margin, the verdict, and TOST equivalence.
    """
    rows = []
    for r in records:
        decimals = decimals_for([r.get("difference"), r.get("ci_low"), r.get("ci_high")])
        rows.append(
            {
                "Cell": r.get("cell"),
                "Variant": r.get("variant"),
                "Metric": metric_label(r.get("metric")),
                "Margin": fmt_value(r.get("margin")),
                "Difference vs HR [CI]": fmt_ci(
                    r.get("difference"), r.get("ci_low"), r.get("ci_high"), decimals
                ),
                "Lower bound": fmt_num(r.get("lower_bound"), decimals),
                "p (inferior by > margin)": fmt_p(r.get("p_value")),
                "Verdict": r.get("verdict") or "",
                "TOST p": fmt_p(r.get("p_equivalence")),
                "Equivalence": r.get("equivalence") or "",
                "Method": r.get("method") or "",
                "Note": r.get("note") or "",
            }
        )
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def html_table(frame: pd.DataFrame, drop: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Columns, alignment and rows of a display frame for the template; None when empty."""
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    if frame.empty:
        return None
    columns = [str(c) for c in frame.columns]
    return {
        "columns": columns,
        "align": ["text" if c in TEXT_COLUMNS else "num" for c in columns],
        "rows": frame.astype(str).to_numpy().tolist(),
    }
