"""Display tables built from the stored summary records, and the paper-ready CSV/TeX files.

Each `*_frame` function returns a DataFrame of display strings (first columns "Cell", "Variant") that
both the HTML page and the TeX files use, so the two never disagree. The CSV files are the raw
records, for machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.stats.schema import TABLE_COLUMNS, at_fixed_threshold
from reports.formatting import (
    CLASSIFICATION_METRICS,
    QUALITY_METRICS,
    decimals_for,
    fmt_ci,
    fmt_int,
    fmt_label,
    fmt_num,
    fmt_p,
    fmt_percent,
    is_missing,
    metric_label,
    ordered,
    test_label,
    variant_order,
)
from reports.rundir import atomic_write, load_summary

TEX_TABLES = ("quality", "classification", "paired_tests", "flips")
# Text columns are left-aligned, numbers right-aligned, in HTML and TeX alike.
TEXT_COLUMNS = {
    "Cell",
    "Variant",
    "Reference",
    "Test",
    "Metric",
    "Note",
    "Image",
    "Label",
    "Prediction",
    "Device",
}
P_ADJUSTED = "p (Holm)"
TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "→": r"$\to$",
    "–": "--",
}


def records_frame(records: Sequence[dict[str, Any]] | None, table: str) -> pd.DataFrame:
    """Stored records as a DataFrame with the schema's columns first (extra columns kept after)."""
    frame = pd.DataFrame(list(records or []))
    columns = TABLE_COLUMNS[table] + [c for c in frame.columns if c not in TABLE_COLUMNS[table]]
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


def _metric_matrix(
    records: Sequence[dict[str, Any]],
    table: str,
    value: str,
    metrics_first: Sequence[str],
    variants: Sequence[str],
) -> pd.DataFrame:
    """Rows (cell, variant), one column per metric holding `value [ci_low, ci_high]`."""
    frame = records_frame(records, table)
    metrics = ordered(frame["metric"], metrics_first)
    digits = _digits_by(frame, ["metric"], [value, "ci_low", "ci_high"])
    rows = []
    for (cell, variant), group in _ordered_groups(frame, ["cell", "variant"], [[], variants]):
        by_metric = {r["metric"]: r for r in group}
        row = {
            "Cell": cell,
            "Variant": variant,
            "n": "/".join(fmt_int(n) for n in ordered((r["n"] for r in group), [])),
        }
        for metric in metrics:
            r = by_metric.get(metric)
            row[metric_label(metric)] = (
                fmt_ci(r[value], r["ci_low"], r["ci_high"], digits[metric]) if r else fmt_num(None, 0)
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def classification_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Classification metrics per (cell, variant): `estimate [CI]`."""
    fixed = at_fixed_threshold(list(records))  # one row per metric; Youden-HR rows only in the CSV
    return _metric_matrix(fixed, "classification", "estimate", CLASSIFICATION_METRICS, variants)


def quality_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Image-quality metrics per (cell, variant): `mean [CI]`."""
    return _metric_matrix(records, "quality", "mean", QUALITY_METRICS, variants)


def paired_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Paired tests, tests against HR first, with raw and Holm-adjusted p-values."""
    frame = records_frame(records, "paired_tests")
    estimate_digits = _digits_by(frame, ["test", "metric"], ["estimate_variant", "estimate_reference"])
    difference_digits = _digits_by(frame, ["test", "metric"], ["difference", "ci_low", "ci_high"])
    statistic_digits = _digits_by(frame, ["test"], ["statistic"])
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
                    P_ADJUSTED: fmt_p(r["p_adjusted"]),
                    "n": fmt_int(r["n"]),
                    "Note": "" if is_missing(r["note"]) else " ".join(str(r["note"]).split()),
                }
            )
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


def flips_frame(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> pd.DataFrame:
    """Prediction flips against HR per (cell, variant), counts as stored."""
    frame = records_frame(records, "flips")
    counts = {
        "normal → pneumonia": "normal_to_pneumonia",
        "pneumonia → normal": "pneumonia_to_normal",
        "correct → wrong": "correct_to_wrong",
        "wrong → correct": "wrong_to_correct",
    }
    rows = [
        {
            "Cell": cell,
            "Variant": variant,
            "n": fmt_int(r["n"]),
            "Flips": fmt_int(r["n_flips"]),
            "Flip rate": fmt_percent(r["flip_rate"]),
            **{label: fmt_int(r[key]) for label, key in counts.items()},
        }
        for (cell, variant), (r, *_) in _ordered_groups(frame, ["cell", "variant"], [[], variants])
    ]
    return pd.DataFrame(rows, columns=None if rows else ["Cell", "Variant"])


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


def overview_frame(
    display: pd.DataFrame, column: str, cells: Sequence[str], variants: Sequence[str]
) -> pd.DataFrame:
    """One display column of a (cell, variant) frame pivoted to rows = cells, columns = variants."""
    if display.empty or column not in display.columns:
        return pd.DataFrame()
    wide = display.pivot(index="Cell", columns="Variant", values=column)
    wide = wide.reindex(index=ordered(wide.index, cells), columns=ordered(wide.columns, variants))
    return wide.fillna(fmt_num(None, 0)).reset_index().rename_axis(columns=None)


def ci_note(records: Sequence[dict[str, Any]]) -> str:
    """Which stored CI method applies to which metric, e.g. `wilson (accuracy); bootstrap (auroc)`."""
    frame = pd.DataFrame(list(records or [])).reindex(columns=["metric", "ci_method"]).dropna()
    parts = []
    for method in ordered(frame["ci_method"], []):
        metrics = ordered(frame.loc[frame["ci_method"] == method, "metric"], [])
        parts.append(f"{method} ({', '.join(metric_label(m) for m in metrics)})")
    return "; ".join(parts)


def tex_escape(text: Any) -> str:
    """Escape text for LaTeX.

    Hand-written because pandas' `escape="latex"` leaves `<` and `>` (printed as ¡ ¿ under the default
    OT1 font encoding) and the arrow, which pdflatex cannot typeset from UTF-8.
    """
    return "".join(TEX_SPECIALS.get(ch, ch) for ch in str(text))


def to_latex(display: pd.DataFrame, caption: str, label: str) -> str:
    """Booktabs table: cell name printed once per group, `\\midrule` between cells."""
    if display.empty:
        return f"% No records for {label} in this run.\n"
    frame = display.copy()
    starts = frame["Cell"].ne(frame["Cell"].shift()).to_numpy()
    frame["Cell"] = frame["Cell"].where(starts, "")
    align = "".join("l" if c in TEXT_COLUMNS else "r" for c in frame.columns)
    latex = (
        frame.style.hide(axis="index")
        .format(tex_escape)
        .format_index(tex_escape, axis=1)
        .to_latex(
            hrules=True,
            column_format=align,
            caption=tex_escape(caption),
            label=label,
            position_float="centering",
        )
    )
    # Styler writes one line per data row between \midrule and \bottomrule; separate the cells there.
    head, body = latex.split("\\midrule\n", 1)
    body_rows, tail = body.split("\\bottomrule", 1)
    lines = body_rows.splitlines(keepends=True)
    marked = [
        ("\\midrule\n" if start and i else "") + line
        for i, (start, line) in enumerate(zip(starts, lines, strict=True))
    ]
    return (
        "% Needs \\usepackage{booktabs}.\n" + head + "\\midrule\n" + "".join(marked) + "\\bottomrule" + tail
    )


def write_tables(run_dir: Path) -> list[Path]:
    """Write `tables/{quality,classification,paired_tests,flips}.{csv,tex}` and `flipped_images.csv`.

    CSV files hold the stored records unchanged (they round-trip with `pandas.read_csv`); TeX files hold
    the formatted tables (`estimate [CI low, CI high]`, p-values as `<0.001`) with booktabs rules.

    Parameters
    ----------
    run_dir : Path
        `runs/<suite>/<run-id>/` containing summary.json.

    Returns
    -------
    list[Path]
        The files written, CSV before TeX for each table.
    """
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)
    tables, variants = summary["tables"], variant_order(summary)
    builders = {
        "quality": (quality_frame, "Image quality against HR, mean [CI]"),
        "classification": (classification_frame, "Classification, estimate [CI]"),
        "paired_tests": (
            paired_frame,
            "Paired tests of each variant against its reference; p adjusted by Holm",
        ),
        "flips": (flips_frame, "Predictions that change class relative to HR"),
    }
    out_dir = run_dir / "tables"
    written = []
    for name in [*TEX_TABLES, "flipped_images"]:
        records = tables.get(name) or []
        csv = records_frame(records, name).to_csv(index=False).encode("utf-8")
        written.append(atomic_write(out_dir / f"{name}.csv", csv))
        if name in builders:
            build, caption = builders[name]
            note = ci_note(records) if name in ("quality", "classification") else ""
            full_caption = f"{caption} ({summary['suite']}, run {summary['run_id']})" + (
                f". CI methods: {note}" if note else ""
            )
            tex = to_latex(build(records, variants), full_caption, f"tab:{name}")
            written.append(atomic_write(out_dir / f"{name}.tex", tex.encode("utf-8")))
    return written
