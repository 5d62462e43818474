"""Classifier panel: whether the first classifier's conclusions hold for the others, and each further
member's own diagnosis and flip tables (the first member's are the page's)."""

from __future__ import annotations

from typing import Any

from reports.methods import model_input
from reports.sections import Page
from reports.sections.seeds import agreement
from reports.tables import classification_frame, flips_frame, html_table, noninferiority_frame

ID = "panel"
TITLE = "Classifier panel"
TEMPLATE = "sections/panel.html.j2"


def context(page: Page) -> dict[str, Any] | None:
    """None when one classifier classified the run."""
    section = page.run.summary.panel
    if not section:
        return None
    return {
        **agreement(section),
        "member_tables": [_member(m, page.variants) for m in section.get("members") or []],
    }


def _member(member: dict[str, Any], variants: list[str]) -> dict[str, Any]:
    tables = member.get("tables") or {}
    seeds = member.get("seeds") or {}
    return {
        "name": member.get("name"),
        "model": model_input(member.get("classifier") or {}),
        "source": member.get("source"),
        "path": member.get("path"),
        "sha256": member.get("sha256"),
        "seeds": agreement(seeds) if seeds else None,
        "classification": html_table(classification_frame(tables.get("classification") or [], variants)),
        "non_inferiority": html_table(noninferiority_frame(tables.get("non_inferiority") or [], variants)),
        "flips": html_table(flips_frame(tables.get("flips") or [], variants)),
    }
