"""Training: the loss curves of each trained SR model and of the classifier, from their history CSVs."""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports import figures
from reports.formatting import slug
from reports.rundir import resolve_inside
from reports.sections import Page

ID = "training"
TITLE = "Training"
TEMPLATE = "sections/training.html.j2"


def context(page: Page) -> dict[str, Any]:
    summary = page.run.summary
    sources = [(f"SR model {t.model}", t.history_csv) for t in summary.training]
    if summary.classifier and summary.classifier.history_csv:
        sources.append(("Classifier", summary.classifier.history_csv))
    curves = []
    for title, relative in sources:
        path = resolve_inside(page.run.run_dir, str(relative)) if relative else None
        fig = None
        if path is not None:
            try:
                fig = figures.history_curves(pd.read_csv(path), title)
            except (pd.errors.EmptyDataError, pd.errors.ParserError):
                fig = None  # the page says the history could not be read
        shown = page.gallery.add(f"training_{slug(title)}", title, fig)
        curves.append({"title": title, "path": relative, **(shown or {"uri": None, "file": ""})})
    return {"curves": curves}
