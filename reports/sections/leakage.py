"""Leakage sensitivity: the primary results without the images the leakage checks flagged, when any were."""

from __future__ import annotations

from typing import Any

from reports.leakage import sensitivity_frame, sensitivity_text
from reports.sections import Page
from reports.tables import html_table

ID = "leakage"
TITLE = "Leakage"
TEMPLATE = "sections/leakage.html.j2"


def context(page: Page) -> dict[str, Any] | None:
    """None when the run has no leakage sensitivity analysis."""
    text = sensitivity_text(page.run.summary)
    if not text:
        return None
    return {"text": text, "table": html_table(sensitivity_frame(page.run.summary))}
