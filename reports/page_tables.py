"""The headline split into tables that fit a page: diagnosis, paired tests, flips, other classification
metrics and image quality, each narrow enough for a 1,200-px column and for print.

Each table takes its columns from the one `Headline` (so the page, headline.csv and headline.tex show
the same entries) and keeps only the rows with an entry in them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reports.formatting import CLASSIFICATION_METRICS
from reports.headline import Column, Headline

DIAGNOSIS_DEFAULT = ("accuracy", "sensitivity", "specificity", "auroc")


@dataclass
class PageTable:
    """One table of the page: its columns (with group heads) and rows of headline entries."""

    id: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    groups: list[dict[str, Any]]  # [{"title", "span"}] over the columns; empty: one header row


def _groups(columns: list[Column]) -> list[dict[str, Any]]:
    """Runs of columns sharing a group, for a two-row header."""
    groups: list[dict[str, Any]] = []
    for column in columns:
        if groups and groups[-1]["title"] == column.group:
            groups[-1]["span"] += 1
        else:
            groups.append({"title": column.group, "span": 1})
    return groups


def _table(headline: Headline, id_: str, title: str, columns: list[Column], grouped: bool) -> PageTable:
    names = [c.name for c in columns]
    rows = [r for r in headline.rows if any(n in r for n in names)]
    return PageTable(id_, title, columns, rows, _groups(columns) if grouped else [])


def diagnosis_columns(headline: Headline, endpoints: Sequence[str]) -> list[Column]:
    """Per endpoint: the estimate [CI] and the difference to HR [CI], under the endpoint's name."""
    by_kind = {(c.kind, c.metric): c for c in headline.columns}
    columns = []
    for metric in endpoints:
        for kind, label in (("estimate", "estimate [CI]"), ("difference", "Δ vs HR [CI]")):
            column = by_kind.get((kind, metric))
            if column is not None:
                group = by_kind.get(("estimate", metric), column).name
                columns.append(dataclasses.replace(column, group=group, label=label))
    return columns


def page_tables(headline: Headline, endpoints: Sequence[str] | None = None) -> list[PageTable]:
    """The page's result tables, in reading order; tables without columns or rows are left out.

    Parameters
    ----------
    endpoints : sequence of str, optional
        Metrics of the diagnosis table (the run's primary endpoints); accuracy, sensitivity,
        specificity and AUROC when not given.
    """
    endpoints = list(endpoints or DIAGNOSIS_DEFAULT)
    diagnosis = diagnosis_columns(headline, endpoints)
    shown = {c.name for c in diagnosis}

    def of_kind(kind: str) -> list[Column]:
        return [c for c in headline.columns if c.kind == kind and c.name not in shown]

    others = sorted(of_kind("estimate"), key=lambda c: _rank(c.metric))
    tables = [
        _table(headline, "diagnosis", "Diagnosis: estimates and differences to HR", diagnosis, True),
        _table(headline, "tests", "Paired tests against HR and their corrections", of_kind("test"), True),
        _table(headline, "flips", "Diagnoses that change relative to HR (flips)", of_kind("flips"), False),
        _table(headline, "calibration", "Other classification metrics", others, False),
        _table(headline, "quality", "Image quality against HR", of_kind("quality"), False),
    ]
    return [t for t in tables if t.columns and t.rows]


def _rank(metric: str) -> int:
    return (
        CLASSIFICATION_METRICS.index(metric)
        if metric in CLASSIFICATION_METRICS
        else len(CLASSIFICATION_METRICS)
    )
