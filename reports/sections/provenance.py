"""Provenance: how to reproduce the run, its configuration, environment and image manifest."""

from __future__ import annotations

import json
from typing import Any

from reports.sections import Page

ID = "provenance"
TITLE = "Provenance"
TEMPLATE = "sections/provenance.html.j2"
MANIFEST_HEAD = 5


def context(page: Page) -> dict[str, Any]:
    run = page.run
    lines = run.manifest_lines or []
    return {
        "config": run.config_text,
        "environment": None
        if run.environment is None
        else json.dumps(run.environment, indent=2, default=str),
        "manifest_count": len(lines) if run.manifest_lines is not None else None,
        "manifest_head": lines[:MANIFEST_HEAD],
        "manifest_sha256": run.manifest_sha256,
        "reproduce": f"python -m benchmark run --suite {run.summary.suite}",
    }
