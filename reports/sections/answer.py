"""Answer: one line per cell on whether super-resolution changes the diagnosis, each with its forest
plot of the stored differences to HR, and whether the conclusions hold across classifiers and seeds."""

from __future__ import annotations

from typing import Any

from reports import figures_overview
from reports.agreement import verdict
from reports.answer import cell_answers
from reports.formatting import slug
from reports.sections import Page

ID = "answer"
TITLE = "Answer"
TEMPLATE = "sections/answer.html.j2"


def context(page: Page) -> dict[str, Any]:
    summary = page.run.summary
    answers = [
        {
            "cell": a.cell,
            "title": a.title,
            "text": a.text,
            "figure": page.gallery.add(
                f"answer_{slug(a.cell)}",
                f"Difference to HR [CI] per endpoint, {a.title}",
                figures_overview.forest_plot(a.differences, page.all_variants, page.colors),
            ),
        }
        for a in cell_answers(summary, page.cells, page.cell_meta, page.all_variants)
    ]
    return {
        "answers": answers,
        "panel": verdict(summary.panel) if summary.panel else None,
        "seeds": verdict(summary.seeds) if summary.seeds else None,
    }
