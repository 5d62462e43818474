"""Methods: a paragraph for a paper, generated from the run's configuration and stored tables."""

from __future__ import annotations

from typing import Any

from reports.header import class_counts
from reports.methods import methods_paragraph
from reports.sections import Page

ID = "methods"
TITLE = "Methods"
TEMPLATE = "sections/methods.html.j2"


def context(page: Page) -> dict[str, Any]:
    run = page.run
    return {"paragraph": methods_paragraph(run.config_text, run.summary, class_counts(run), page.provenance)}
