"""Results: the headline tables (diagnosis, image quality, ...) of every cell and variant, their legend
and the overview figures."""

from __future__ import annotations

from typing import Any

from reports import figures_overview
from reports.headline import Entry, build_headline
from reports.legend import legend
from reports.page_tables import page_tables
from reports.sections import Page
from reports.tables import ci_note

ID = "headline"
TITLE = "Results"
TEMPLATE = "sections/headline.html.j2"


def context(page: Page) -> dict[str, Any]:
    summary = page.run.summary
    tables = summary.tables
    classification = tables.get("classification") or []
    headline = build_headline(tables, page.cells, page.variants)
    statistics = summary.statistics or {}
    result_tables = page_tables(headline, statistics.get("primary_endpoints"))
    heads = [
        *(c.label or c.name for t in result_tables for c in t.columns),
        *(g["title"] for t in result_tables for g in t.groups),
        *page.all_variants,
        "SR",
        *(
            f"{e.text} {e.flag}"
            for t in result_tables
            for r in t.rows
            for e in r.values()
            if isinstance(e, Entry)
        ),
    ]
    overview = [
        page.gallery.add(
            "overview_estimates",
            "Accuracy and AUROC with stored CIs per model and cell (scenario × scale)",
            figures_overview.estimates_by_cell(classification, page.cells, page.all_variants, page.colors),
        ),
        page.gallery.add(
            "overview_vs_scale",
            "Accuracy and AUROC against the scale factor with stored CIs",
            figures_overview.metric_vs_scale(classification, page.cell_meta, page.all_variants, page.colors),
        ),
        page.gallery.add(
            "overview_flips",
            "Flip matrix: share of images whose predicted class differs from HR",
            figures_overview.flip_matrix(tables.get("flips") or [], page.cells, page.all_variants),
        ),
    ]
    return {
        "tables": result_tables,
        "setting": headline.setting,
        "legend": legend(heads, statistics.get("confidence")),
        "figures": [f for f in overview if f],
        "classification_ci": ci_note(classification),
        "quality_ci": ci_note(tables.get("quality") or []),
    }
