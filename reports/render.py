"""Render `runs/<suite>/<run-id>/report.html`: one self-contained page (tables, figures, image strips).

Everything the page shows is read from the run directory; images and figures are embedded as data
URIs, and the template is autoescaped, so names from the run cannot inject markup.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from reports import figures
from reports.formatting import fmt_label, fmt_num, is_missing, ordered, variant_order
from reports.rundir import RunData, atomic_write, load_run, png_data_uri, resolve_inside
from reports.tables import (
    TEXT_COLUMNS,
    ci_note,
    classification_frame,
    flipped_images_frame,
    flips_frame,
    overview_frame,
    paired_frame,
    quality_frame,
    throughput_frame,
)

TEMPLATES = Path(__file__).parent / "templates"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MANIFEST_HEAD = 5
CI_CELL = re.compile(r"^(\S+) (\[.+\])$")


def render_report(run_dir: Path) -> Path:
    """Write `run_dir/report.html` (atomically) and return its path.

    The figures embedded in the page are also saved as PNG files in `run_dir/figures/` for papers.

    Raises
    ------
    RunFileMissing
        If run_dir or its summary.json does not exist; the message says to run the suite first.
    """
    run = load_run(Path(run_dir))
    context, figure_files = _context(run)
    for name, png in figure_files.items():
        atomic_write(run.run_dir / "figures" / name, png)
    html = _environment().get_template("report.html.j2").render(**context)
    return atomic_write(run.run_dir / "report.html", html.encode("utf-8"))


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        # The template is named *.html.j2; enable escaping for it and for any string template.
        autoescape=select_autoescape(
            enabled_extensions=("html", "j2"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ci"] = _ci_cell
    return env


def _ci_cell(text: Any) -> Markup:
    """Show `0.912 [0.881, 0.936]` as the estimate with the interval in a muted span (both escaped)."""
    match = CI_CELL.match(str(text))
    if not match:
        return escape(text)
    return Markup('{} <span class="ci">{}</span>').format(match[1], match[2])


def _html_table(frame: pd.DataFrame, drop: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Columns, alignment and rows of a display frame for the template; None when empty."""
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    if frame.empty:
        return None
    columns = [str(c) for c in frame.columns]
    return {
        "columns": columns,
        "align": ["text" if c in TEXT_COLUMNS else "num" for c in columns],
        "rows": frame.astype(str).to_numpy().tolist(),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "cell"


def _context(run: RunData) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Template variables, plus the figure PNGs by file name."""
    summary = run.summary
    tables = summary["tables"]
    variants = variant_order(summary)
    cell_meta = {c["cell"]: c for c in summary.get("cells", []) if isinstance(c, dict) and "cell" in c}
    table_cells = [
        r.get("cell") for name in ("classification", "quality", "flips") for r in tables.get(name) or []
    ]
    cells = ordered([*cell_meta, *table_cells], list(cell_meta))
    all_variants = ordered(
        [r.get("variant") for name in ("classification", "quality", "flips") for r in tables.get(name) or []],
        variants,
    )
    colors = figures.variant_colors(all_variants)

    display = {
        "classification": classification_frame(tables.get("classification") or [], variants),
        "quality": quality_frame(tables.get("quality") or [], variants),
        "paired": paired_frame(tables.get("paired_tests") or [], variants),
        "flips": flips_frame(tables.get("flips") or [], variants),
        "flipped": flipped_images_frame(tables.get("flipped_images") or [], variants),
    }
    figure_files: dict[str, bytes] = {}
    cell_sections = [
        _cell_section(run, i, cell, cell_meta.get(cell, {}), display, variants, colors, figure_files)
        for i, cell in enumerate(cells, start=1)
    ]
    classifier = summary.get("classifier") or {}
    context = {
        "suite": summary["suite"],
        "run_id": summary["run_id"],
        "created": summary.get("created") or "",
        "synthetic": bool(summary.get("synthetic_data")),
        "data_note": summary.get("data_note") or "",
        "variants": all_variants,
        "missing": run.missing,
        "overview_auroc": _html_table(overview_frame(display["classification"], "AUROC", cells, variants)),
        "overview_flips": _html_table(overview_frame(display["flips"], "Flip rate", cells, variants)),
        "cells": cell_sections,
        "training": _training(run, classifier, figure_files),
        "throughput": _html_table(throughput_frame(summary.get("throughput") or [], variants)),
        "classifier": {k: classifier.get(k) for k in ("source", "path", "sha256")},
        "classification_ci": ci_note(tables.get("classification") or []),
        "quality_ci": ci_note(tables.get("quality") or []),
        "provenance": _provenance(run),
    }
    return context, figure_files


def _cell_section(
    run: RunData,
    index: int,
    cell: str,
    meta: dict[str, Any],
    display: dict[str, pd.DataFrame],
    variants: list[str],
    colors: dict[str, Any],
    figure_files: dict[str, bytes],
) -> dict[str, Any]:
    """Everything shown for one cell (scenario × scale)."""
    tables = run.summary["tables"]
    in_cell = {
        name: frame[frame["Cell"] == cell] if "Cell" in frame else frame for name, frame in display.items()
    }

    def rows_of(name: str) -> list[dict[str, Any]]:
        return [r for r in tables.get(name) or [] if r.get("cell") == cell]

    drawn = [
        (
            "Accuracy and AUROC with stored CIs; prediction flips vs HR",
            "classification",
            figures.classification_and_flips(rows_of("classification"), rows_of("flips"), variants, colors),
        ),
        (
            "Per-image image quality against HR",
            "quality",
            None
            if run.results is None
            else figures.iq_distributions(run.results[run.results["cell"] == cell], variants, colors),
        ),
    ]
    shown = []
    for title, key, png in drawn:
        if png is not None:
            figure_files[f"{_slug(cell)}_{key}.png"] = png
            shown.append({"title": title, "uri": png_data_uri(png)})
    params = meta.get("params")
    return {
        "id": f"cell-{index}",
        "name": cell,
        "scenario": meta.get("scenario"),
        "scale": meta.get("scale"),
        "params": json.dumps(params, sort_keys=True, default=str) if params else "",
        "classification": _html_table(in_cell["classification"], ("Cell",)),
        "quality": _html_table(in_cell["quality"], ("Cell",)),
        "paired": _html_table(in_cell["paired"], ("Cell",)),
        "flips": _html_table(in_cell["flips"], ("Cell",)),
        "flipped": _html_table(in_cell["flipped"], ("Cell",)),
        "n_flipped": len(in_cell["flipped"]),
        "figures": shown,
        "strips": _strips(run, cell, variants),
    }


def _strips(run: RunData, cell: str, variants: list[str]) -> list[dict[str, Any]]:
    """HR / LR / SR images of the cell's examples, each with its stored P(pneumonia)."""
    probs: dict[tuple[str, str], float] = {}
    if run.predictions is not None:
        rows = run.predictions[run.predictions["cell"] == cell]
        probs = {
            (str(i), str(v)): p
            for i, v, p in zip(rows["image_id"], rows["variant"], rows["prob"], strict=True)
        }
    strips = []
    for example in run.examples:
        if not isinstance(example, dict) or example.get("cell") != cell:
            continue
        image_id = str(example.get("image_id", ""))
        images = example.get("images") or {}
        items = []
        for variant in ordered(images, variants):
            path = resolve_inside(run.run_dir, str(images[variant]))
            data = path.read_bytes() if path is not None else b""
            prob = probs.get((image_id, str(variant)))
            items.append(
                {
                    "variant": variant,
                    "uri": png_data_uri(data) if data.startswith(PNG_MAGIC) else None,
                    "path": str(images[variant]),
                    "pixelated": variant in ("LR", "LR-nearest"),
                    "prob": None if is_missing(prob) else fmt_num(prob, 3),
                }
            )
        strips.append({"image_id": image_id, "label": fmt_label(example.get("label")), "images": items})
    return strips


def _training(
    run: RunData, classifier: dict[str, Any], figure_files: dict[str, bytes]
) -> list[dict[str, Any]]:
    """Loss curves of each SR model and of the classifier, from their history CSVs."""
    sources = [
        (f"SR model {t.get('model')}", t.get("history_csv")) for t in run.summary.get("training") or []
    ]
    if classifier.get("history_csv"):
        sources.append(("Classifier", classifier["history_csv"]))
    curves = []
    for title, relative in sources:
        path = resolve_inside(run.run_dir, str(relative)) if relative else None
        png = None
        if path is not None:
            try:
                png = figures.history_curves(pd.read_csv(path), title)
            except (pd.errors.EmptyDataError, pd.errors.ParserError):
                png = None  # the page says the history could not be read
        if png is not None:
            figure_files[f"training_{_slug(title)}.png"] = png
        curves.append({"title": title, "path": relative, "uri": png_data_uri(png) if png else None})
    return curves


def _provenance(run: RunData) -> dict[str, Any]:
    lines = run.manifest_lines or []
    return {
        "config": run.config_text,
        "environment": None
        if run.environment is None
        else json.dumps(run.environment, indent=2, default=str),
        "manifest_count": len(lines) if run.manifest_lines is not None else None,
        "manifest_head": lines[:MANIFEST_HEAD],
        "manifest_sha256": run.manifest_sha256,
        "reproduce": f"python -m benchmark run --suite {run.summary['suite']}",
    }
