"""Training seeds: whether the primary seed's conclusions hold for classifiers trained with other seeds."""

from __future__ import annotations

from typing import Any

from reports.agreement import conclusions_frame, flips_frame, verdict
from reports.sections import Page
from reports.tables import html_table

ID = "seeds"
TITLE = "Training seeds"
TEMPLATE = "sections/seeds.html.j2"


def context(page: Page) -> dict[str, Any] | None:
    """None when the run trained one classifier."""
    return agreement(page.run.summary.seeds)


def agreement(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sentence and tables of a comparison of classifiers (training seeds or a panel), if any."""
    if not section:
        return None
    return {
        **verdict(section),
        "conclusions": html_table(conclusions_frame(section)),
        "flips": html_table(flips_frame(section)),
    }
