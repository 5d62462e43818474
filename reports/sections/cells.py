"""The cells: for each scenario × scale, its tables, figures and image comparisons (one ``<section>``
and navigation link per cell)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from reports import figures, figures_cell
from reports.comparisons import (
    CROP_QUALITY,
    MAP_QUALITY,
    THUMB_BYTES,
    THUMB_QUALITY,
    THUMB_SIDE,
    build_comparison,
    most_flipped,
)
from reports.formatting import fmt_label, slug
from reports.rundir import RunData
from reports.sections import Page
from reports.tables import (
    ci_note,
    classification_frame,
    flipped_images_frame,
    flips_frame,
    generic_frame,
    html_table,
    n_note,
    noninferiority_frame,
    paired_frame,
    quality_frame,
)

ID = "cells"
TITLE = "Cells"
TEMPLATE = "sections/cells.html.j2"
# Tables shown under their own name with a layout of their own (others: ``generic_frame``).
OWN_LAYOUTS = {"non_inferiority": noninferiority_frame}
SHOWN_TABLES = ("classification", "quality", "paired_tests", "flips", "flipped_images")


def context(page: Page) -> dict[str, Any] | None:
    """None when the run has no cells; its navigation links are one per cell."""
    if not page.cells:
        return None
    tables = page.run.summary.tables
    display = {
        "classification": classification_frame(tables.get("classification") or [], page.variants),
        "quality": quality_frame(tables.get("quality") or [], page.variants),
        "paired": paired_frame(tables.get("paired_tests") or [], page.variants),
        "flips": flips_frame(tables.get("flips") or [], page.variants),
        "flipped": flipped_images_frame(tables.get("flipped_images") or [], page.variants),
    }
    cells = [_cell(page, i, cell, display) for i, cell in enumerate(page.cells, start=1)]
    return {
        "cells": cells,
        "links": [(c["id"], c["name"]) for c in cells],
        "classification_ci": ci_note(tables.get("classification") or []),
        "quality_ci": ci_note(tables.get("quality") or []),
        "thumbnails": {
            "side": THUMB_SIDE,
            "quality": THUMB_QUALITY,
            "kb": THUMB_BYTES // 1000,
            "map_quality": MAP_QUALITY,
            "crop_quality": CROP_QUALITY,
        },
    }


def _cell(page: Page, index: int, cell: str, display: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Everything shown for one cell (scenario × scale)."""
    run, variants, colors = page.run, page.variants, page.colors
    meta = page.cell_meta.get(cell, {})
    tables = run.summary.tables
    in_cell = {
        name: frame[frame["Cell"] == cell] if "Cell" in frame else frame for name, frame in display.items()
    }

    def rows_of(name: str) -> list[dict[str, Any]]:
        return [r for r in tables.get(name) or [] if r.get("cell") == cell]

    predictions = None if run.predictions is None else run.predictions[run.predictions["cell"] == cell]
    results = None if run.results is None else run.results[run.results["cell"] == cell]
    prefix = slug(cell)
    drawn = [
        (
            "classification",
            "Accuracy and AUROC with stored CIs; prediction flips vs HR",
            figures.classification_and_flips(rows_of("classification"), rows_of("flips"), variants, colors),
        ),
        (
            "quality",
            "Per-image image quality against HR",
            None if results is None else figures.iq_distributions(results, variants, colors),
        ),
        (
            "roc",
            "ROC curves from the stored per-image probabilities; legend: stored AUROC",
            None
            if predictions is None
            else figures_cell.roc_curves(predictions, rows_of("classification"), variants, colors),
        ),
        (
            "reliability",
            "Reliability diagrams (10 equal-width bins); titles: stored ECE",
            None
            if predictions is None
            else figures_cell.reliability_diagrams(predictions, rows_of("classification"), variants, colors),
        ),
        (
            "quality_vs_change",
            "Per-image image quality against the change of P(pneumonia) from HR",
            None
            if predictions is None or results is None
            else figures_cell.quality_vs_change(
                results, predictions, rows_of("flipped_images"), variants, colors
            ),
        ),
    ]
    shown = [page.gallery.add(f"{prefix}_{key}", title, fig) for key, title, fig in drawn]
    params = meta.get("params")
    comparisons = _comparisons(run, cell, variants)
    stored = {c.image_id for c in comparisons}
    return {
        "id": f"cell-{index}",
        "name": cell,
        "scenario": meta.get("scenario"),
        "scale": meta.get("scale"),
        "params": json.dumps(params, sort_keys=True, default=str) if params else "",
        "classification": html_table(in_cell["classification"], ("Cell",)),
        "classification_n": n_note(rows_of("classification")),
        "quality": html_table(in_cell["quality"], ("Cell",)),
        "quality_n": n_note(rows_of("quality")),
        "paired": html_table(in_cell["paired"], ("Cell",)),
        "flips": html_table(in_cell["flips"], ("Cell",)),
        "flipped": html_table(in_cell["flipped"], ("Cell",)),
        "n_flipped": len(in_cell["flipped"]),
        "other_tables": [
            {
                "name": name,
                "table": html_table(OWN_LAYOUTS.get(name, generic_frame)(rows_of(name)), ("Cell",)),
            }
            for name in tables
            if name not in SHOWN_TABLES and rows_of(name)
        ],
        "figures": [f for f in shown if f],
        "comparisons": comparisons,
        "most_flipped": [
            {"image_id": i, "count": n, "stored": i in stored}
            for i, n in most_flipped(rows_of("flipped_images"))
        ],
    }


def _comparisons(run: RunData, cell: str, variants: list[str]) -> list[Any]:
    """Comparisons of the cell's stored examples, the most often flipped images first."""
    probs: dict[tuple[str, str], float] = {}
    if run.predictions is not None:
        rows = run.predictions[run.predictions["cell"] == cell]
        probs = {
            (str(i), str(v)): p
            for i, v, p in zip(rows["image_id"], rows["variant"], rows["prob"], strict=True)
        }
    flipped = [r for r in run.summary.rows("flipped_images") if r.get("cell") == cell]
    flips = {
        (str(r.get("image_id")), str(r.get("variant"))): _flip_text(r.get("pred_hr"), r.get("pred_variant"))
        for r in flipped
    }
    rank = {image_id: i for i, (image_id, _) in enumerate(most_flipped(flipped, limit=len(flipped)))}
    examples = [e for e in run.examples if isinstance(e, dict) and e.get("cell") == cell]
    examples.sort(key=lambda e: rank.get(str(e.get("image_id")), len(rank)))
    return [build_comparison(run.run_dir, e, variants, probs, flips) for e in examples]


def _flip_text(before: Any, after: Any) -> str:
    return f"{fmt_label(before)} → {fmt_label(after)}"
