"""The headline table: one row per (cell, variant) with IQ means, classification estimates, the paired
tests against HR and the flips, each as stored; the best value of each column within a cell is marked.

Columns come from the records present (any metric, test or adjusted p-value column the run stored), so
a run with more metrics or corrections gets more columns without a change here. Marking the best value
is a min/max over displayed estimates, not a statistic; HR, the reference, is never marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cxr_kernel.variants import HR
from reports.formatting import (
    CLASSIFICATION_METRICS,
    QUALITY_METRICS,
    better_direction,
    correction_label,
    fmt_int,
    fmt_p,
    fmt_percent_ci,
    is_missing,
    metric_label,
    ordered,
    test_label,
)
from reports.precision import column_decimals, fmt_interval
from reports.tables import blank, qualifiers, records_frame

REFERENCE = HR


@dataclass
class Entry:
    """One displayed value: its text, the number it sorts by, and its stored CI bounds (for the CSV)."""

    text: str
    key: float | None = None
    low: float | None = None
    high: float | None = None
    best: bool = False
    flag: str = ""  # a verdict shown beside the value (non-inferiority of a difference to HR)


@dataclass
class Column:
    name: str
    group: str
    direction: int = 0  # +1 higher is better, -1 lower is better, 0 not marked
    kind: str = ""  # quality, estimate, difference, test, flips: which page table shows it
    metric: str = ""  # the stored metric key, where the column has one
    label: str = ""  # short head under its group on the page (the name when empty)


@dataclass
class Headline:
    columns: list[Column] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # {"Cell", "Variant", column name: Entry}
    setting: str = ""  # which stored qualifier (e.g. threshold) the classification columns show

    @property
    def empty(self) -> bool:
        return not self.rows


def _number(value: Any) -> float | None:
    return None if is_missing(value) else float(value)


def _first_records(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, dict[str, Any]]:
    """The first stored record per key tuple (keys with a missing part are skipped)."""
    first: dict[tuple, dict[str, Any]] = {}
    for record in frame.to_dict("records"):
        key = tuple(record[k] for k in keys)
        if not any(is_missing(v) for v in key):
            first.setdefault(key, record)
    return first


def _interval_entries(records: dict[tuple, dict[str, Any]], value: str) -> dict[tuple, Entry]:
    """`value [CI]` entries of one column, at the decimals that tell its values apart (see precision)."""
    decimals = column_decimals((key[0], r[value], r["ci_low"], r["ci_high"]) for key, r in records.items())
    return {
        key: Entry(
            fmt_interval(r[value], r["ci_low"], r["ci_high"], decimals),
            _number(r[value]),
            _number(r["ci_low"]),
            _number(r["ci_high"]),
        )
        for key, r in records.items()
    }


def _estimate_columns(
    headline: Headline, frame: pd.DataFrame, value: str, metrics_first: Sequence[str], kind: str
) -> dict[tuple, dict[str, Entry]]:
    """Entries `value [CI]` per (cell, variant), one column per stored metric."""
    group = GROUPS[kind]
    records = _first_records(frame, ["cell", "variant", "metric"])
    cells: dict[tuple, dict[str, Entry]] = {}
    for m in ordered(frame["metric"], metrics_first):
        name = metric_label(m)
        headline.columns.append(Column(name, group, better_direction(m), kind, m))
        column = {(c, v): r for (c, v, metric), r in records.items() if metric == m}
        for key, entry in _interval_entries(column, value).items():
            cells.setdefault(key, {})[name] = entry
    return cells


def _difference_columns(
    headline: Headline, frame: pd.DataFrame, verdicts: pd.DataFrame
) -> dict[tuple, dict[str, Entry]]:
    """Difference to HR [CI] of each primary endpoint with the stored non-inferiority verdict as the
    entry's flag: the interval the verdict was judged on where the run stored one (the same as the paired
    test's in a pipeline run), else the paired test's."""
    keys = ["cell", "variant", "metric"]
    judged = _first_records(verdicts, keys) if set(keys) <= set(verdicts.columns) else {}
    records = {**_first_records(_against_reference(frame), keys), **judged}
    cells: dict[tuple, dict[str, Entry]] = {}
    for m in ordered([k[2] for k in records], CLASSIFICATION_METRICS):
        name = f"Δ {metric_label(m)}"
        headline.columns.append(Column(name, GROUPS["difference"], better_direction(m), "difference", m))
        column = {(c, v): r for (c, v, metric), r in records.items() if metric == m}
        for (cell, variant), entry in _interval_entries(column, "difference").items():
            entry.flag = str(judged.get((cell, variant, m), {}).get("verdict") or "")
            cells.setdefault((cell, variant), {})[name] = entry
    return cells


def _against_reference(frame: pd.DataFrame) -> pd.DataFrame:
    """Paired tests against HR: only the primary family's (one per hypothesis) when the run stored
    families, every test against HR otherwise."""
    frame = frame[frame["reference"] == REFERENCE]
    if "family" in frame.columns and (frame["family"] == "primary").any():
        frame = frame[frame["family"] == "primary"]
    return frame


def _primary_setting(headline: Headline, frame: pd.DataFrame) -> pd.DataFrame:
    """Classification records of the first stored qualifier setting (e.g. threshold 0.5) plus shared ones."""
    names = qualifiers(frame)
    if not names:
        return frame
    empty = blank(frame[names])
    first = frame.loc[~empty.all(axis=1), names].iloc[0]
    keep = empty.all(axis=1) | (frame[names] == first).all(axis=1)
    headline.setting = f"{names[0]} = {first[names[0]]}"  # e.g. "threshold = 0.5"
    return frame[keep]


def _test_columns(headline: Headline, frame: pd.DataFrame) -> dict[tuple, dict[str, Entry]]:
    """p and every stored adjusted p of each (test, metric) against HR (see `_against_reference`)."""
    frame = _against_reference(frame)
    adjusted = [c for c in frame.columns if correction_label(c)]
    cells: dict[tuple, dict[str, Entry]] = {}
    pairs = list(dict.fromkeys(zip(frame["test"], frame["metric"], strict=True)))
    for test, metric in pairs:
        name = f"{test_label(test)} {metric_label(metric)}"
        headline.columns.append(Column(f"{name} p", name, 0, "test", metric, "p"))
        headline.columns += [
            Column(f"{name} p ({correction_label(c)})", name, 0, "test", metric, f"p ({correction_label(c)})")
            for c in adjusted
        ]
    for (cell, variant, test, metric), r in _first_records(
        frame, ["cell", "variant", "test", "metric"]
    ).items():
        name = f"{test_label(test)} {metric_label(metric)}"
        row = cells.setdefault((cell, variant), {})
        row[f"{name} p"] = Entry(fmt_p(r["p_value"]), _number(r["p_value"]))
        for c in adjusted:
            row[f"{name} p ({correction_label(c)})"] = Entry(fmt_p(r[c]), _number(r[c]))
    return cells


# Stored flip counts shown beside the total, by direction of the change (column key -> head).
FLIP_COUNTS = {
    "normal_to_pneumonia": "→ pneumonia",
    "pneumonia_to_normal": "→ normal",
    "correct_to_wrong": "correct → wrong",
    "wrong_to_correct": "wrong → correct",
}


def _flip_columns(headline: Headline, frame: pd.DataFrame) -> dict[tuple, dict[str, Entry]]:
    """Flips (count/n), the flip rate [CI], the stored counts by direction, and the mean |ΔP| [CI]."""
    counts = [k for k in FLIP_COUNTS if k in frame.columns and frame[k].notna().any()]
    change = "mean_abs_prob_change"
    has_change = change in frame.columns and frame[change].notna().any()
    group = GROUPS["flips"]
    headline.columns += [
        Column("Flips", group, better_direction("n_flips"), "flips", "n_flips"),
        Column("Flip rate", group, better_direction("flip_rate"), "flips", "flip_rate"),
        *(Column(FLIP_COUNTS[k], group, better_direction(k), "flips", k) for k in counts),
        *([Column("Mean |ΔP|", group, -1, "flips", change)] if has_change else []),
    ]
    records = _first_records(frame, ["cell", "variant"])
    cells: dict[tuple, dict[str, Entry]] = {}
    for (cell, variant), r in records.items():
        cells[(cell, variant)] = {
            "Flips": Entry(f"{fmt_int(r['n_flips'])}/{fmt_int(r['n'])}", _number(r["n_flips"])),
            "Flip rate": Entry(
                fmt_percent_ci(r["flip_rate"], r.get("flip_rate_ci_low"), r.get("flip_rate_ci_high")),
                _number(r["flip_rate"]),
                _number(r.get("flip_rate_ci_low")),
                _number(r.get("flip_rate_ci_high")),
            ),
            **{FLIP_COUNTS[k]: Entry(fmt_int(r[k]), _number(r[k])) for k in counts},
        }
    if has_change:
        bounds = frame.rename(columns={f"{change}_ci_low": "ci_low", f"{change}_ci_high": "ci_high"})
        for key, entry in _interval_entries(_first_records(bounds, ["cell", "variant"]), change).items():
            cells[key]["Mean |ΔP|"] = entry
    return cells


GROUPS = {
    "quality": "Image quality vs HR",
    "estimate": "Classification",
    "difference": "Difference to HR",
    "flips": "Flips vs HR",
}


def build_headline(tables: dict[str, Any], cells: Sequence[str], variants: Sequence[str]) -> Headline:
    """The headline table of one run from summary["tables"]."""
    headline = Headline()
    parts: list[dict[tuple, dict[str, Entry]]] = []
    quality = records_frame(tables.get("quality"), "quality")
    if not quality.empty:
        parts.append(_estimate_columns(headline, quality, "mean", QUALITY_METRICS, "quality"))
    classification = records_frame(tables.get("classification"), "classification")
    if not classification.empty:
        primary = _primary_setting(headline, classification)
        parts.append(_estimate_columns(headline, primary, "estimate", CLASSIFICATION_METRICS, "estimate"))
    paired = records_frame(tables.get("paired_tests"), "paired_tests")
    if not paired.empty:
        verdicts = pd.DataFrame(tables.get("non_inferiority") or [])
        parts.append(_difference_columns(headline, paired, verdicts))
        parts.append(_test_columns(headline, paired))
    flips = records_frame(tables.get("flips"), "flips")
    if not flips.empty:
        parts.append(_flip_columns(headline, flips))
    keys = [k for part in parts for k in part]
    cell_rank = {c: i for i, c in enumerate(ordered([k[0] for k in keys], cells))}
    variant_rank = {v: i for i, v in enumerate(ordered([k[1] for k in keys], variants))}
    for cell, variant in sorted(set(keys), key=lambda k: (cell_rank[k[0]], variant_rank[k[1]])):
        row: dict[str, Any] = {"Cell": cell, "Variant": variant}
        for part in parts:
            row.update(part.get((cell, variant), {}))
        headline.rows.append(row)
    _mark_best(headline)
    return headline


def _mark_best(headline: Headline) -> None:
    """Mark, per cell and column, the best value among the non-reference rows (ties all marked, unless
    every row ties)."""
    for column in (c for c in headline.columns if c.direction):
        for cell in dict.fromkeys(r["Cell"] for r in headline.rows):
            entries = [
                r[column.name]
                for r in headline.rows
                if r["Cell"] == cell and r["Variant"] != REFERENCE and column.name in r
            ]
            keys = [e.key for e in entries if e.key is not None]
            if len(set(keys)) < 2:
                continue  # one value, or all equal: nothing stands out
            best = max(keys) if column.direction > 0 else min(keys)
            for entry in entries:
                entry.best = entry.key == best


def headline_frames(headline: Headline) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(display strings, best-value mask, numbers with CI bounds) for the TeX and CSV files."""
    names = [c.name for c in headline.columns]
    display, best, numbers = [], [], []
    for row in headline.rows:
        ids = {"Cell": row["Cell"], "Variant": row["Variant"]}
        entries = {n: row.get(n) for n in names}
        display.append({**ids, **{n: e.text if e else "–" for n, e in entries.items()}})
        best.append({"Cell": False, "Variant": False, **{n: bool(e and e.best) for n, e in entries.items()}})
        number = dict(ids)
        for n, e in entries.items():
            number[n] = e.key if e else None
            if e and (e.low is not None or e.high is not None):
                number[f"{n} CI low"], number[f"{n} CI high"] = e.low, e.high
        numbers.append(number)
    return pd.DataFrame(display), pd.DataFrame(best), pd.DataFrame(numbers)
