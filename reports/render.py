"""Render `runs/<suite>/<run-id>/report.html`: one self-contained page (tables, figures, image comparisons).

Everything the page shows is read from the run directory; images and figures are embedded as data
URIs, the only script is inline (table sorting), and the template is autoescaped, so names from the run
cannot inject markup. Every figure is also written to `figures/` as PDF and 300-dpi PNG for papers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from matplotlib.figure import Figure

from benchmark.pipeline.store import RunStore
from cxr_kernel import run_layout
from cxr_kernel.run_summary import ClassifierRecord, RunSummary
from reports import figures, figures_cell, figures_overview
from reports.agreement import conclusions_frame, members, noun
from reports.agreement import flips_frame as agreement_flips_frame
from reports.answer import cell_answers
from reports.comparisons import (
    CROP_QUALITY,
    MAP_QUALITY,
    THUMB_BYTES,
    THUMB_QUALITY,
    THUMB_SIDE,
    build_comparison,
    most_flipped,
)
from reports.formatting import fmt_label, ordered, slug, variant_order
from reports.header import class_counts, header_facts
from reports.headline import Entry, build_headline
from reports.leakage import sensitivity_frame, sensitivity_text
from reports.legend import legend
from reports.methods import methods_paragraph, model_input
from reports.page_tables import page_tables
from reports.provenance import classifier_provenance
from reports.rundir import RunData, load_run, png_data_uri
from reports.sections import Page
from reports.sections import power as power_section
from reports.sections import provenance as provenance_section
from reports.sections import throughput as throughput_section
from reports.sections import training as training_section
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

TEMPLATES = Path(__file__).parent / "templates"
#: The sections after the cells, in page order (``reports.sections``: a module and its template block each).
SECTIONS = (power_section, training_section, throughput_section, provenance_section)
CI_CELL = re.compile(r"^(\S+) (\[.+)$")
VERDICTS = {"non-inferior": "NI", "inferior": "inf.", "inconclusive": "?"}
CELL_TABLES = ("classification", "quality", "flips")
# Tables shown under their own name with a layout of their own (others: ``generic_frame``).
OWN_LAYOUTS = {"non_inferiority": noninferiority_frame}
SHOWN_TABLES = ("classification", "quality", "paired_tests", "flips", "flipped_images")


def render_report(run_dir: Path) -> Path:
    """Write `run_dir/report.html` (atomically) and the figures for papers; return the page's path.

    Raises
    ------
    RunFileMissing
        If run_dir or its summary.json does not exist; the message says to run the suite first.
    """
    run = load_run(Path(run_dir))
    gallery = FigureGallery()
    context = _context(run, gallery)
    store = RunStore(run.run_dir)
    gallery.save(store)
    html = environment().get_template("report.html.j2").render(**context)
    return store.write_bytes(run_layout.REPORT, html.encode("utf-8"))


class FigureGallery:
    """Figures of one page: saved as PDF and 300-dpi PNG for papers, embedded as a smaller PNG.

    The page's copy is the paper PNG scaled down, not a third rendering: drawing dominates report time.
    """

    def __init__(self, paper: bool = True) -> None:
        self.paper = paper  # False: embed only (no files), drawn once at page resolution
        self.files: dict[str, bytes] = {}

    def add(self, name: str, title: str, fig: Figure | None) -> dict[str, str] | None:
        if fig is None:
            return None
        if not self.paper:
            return {"title": title, "uri": png_data_uri(figures.encode(fig)), "file": ""}
        paper = figures.encode(fig, "png", figures.PAPER_DPI)
        self.files[f"{name}.png"] = paper
        self.files[f"{name}.pdf"] = figures.encode(fig, "pdf")
        page = figures.downscale(paper, figures.DPI / figures.PAPER_DPI)
        return {"title": title, "uri": png_data_uri(page), "file": f"figures/{name}.pdf"}

    def save(self, store: RunStore) -> None:
        """The paper files, into the run directory's ``figures/``."""
        for name, data in self.files.items():
            store.write_bytes(f"{run_layout.FIGURES_DIR}/{name}", data)


def environment() -> Environment:
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


def _ci_cell(text: Any, verdict: str = "") -> Markup:
    """Show `0.912 [0.881, 0.936]` as the estimate with the interval in a muted span (both escaped),
    and a stored non-inferiority verdict as a short tag beside the estimate."""
    tag = (
        Markup(' <span class="verdict v-{0}" title="{0}">{1}</span>').format(
            verdict, VERDICTS.get(verdict, verdict)
        )
        if verdict
        else ""
    )
    match = CI_CELL.match(str(text))
    if not match:
        return escape(text) + tag
    return Markup('{}{} <span class="ci">{}</span>').format(match[1], tag, match[2])


def run_cells(summary: RunSummary) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Cell names in suite order (plus any only the tables name) and each cell's metadata."""
    meta = {c.cell: c.model_dump(exclude_unset=True) for c in summary.cells}
    named = [r.get("cell") for name in CELL_TABLES for r in summary.rows(name)]
    return ordered([*meta, *named], list(meta)), meta


def run_variants(summary: RunSummary) -> list[str]:
    """HR, LR, the SR variants in suite order, then any only the tables name."""
    named = [r.get("variant") for name in CELL_TABLES for r in summary.rows(name)]
    return ordered(named, variant_order(summary.variants))


def _context(run: RunData, gallery: FigureGallery) -> dict[str, Any]:
    """Template variables."""
    summary = run.summary
    tables = summary.tables
    variants = variant_order(summary.variants)
    cells, cell_meta = run_cells(summary)
    all_variants = run_variants(summary)
    colors = figures.variant_colors(all_variants)

    display = {
        "classification": classification_frame(tables.get("classification") or [], variants),
        "quality": quality_frame(tables.get("quality") or [], variants),
        "paired": paired_frame(tables.get("paired_tests") or [], variants),
        "flips": flips_frame(tables.get("flips") or [], variants),
        "flipped": flipped_images_frame(tables.get("flipped_images") or [], variants),
    }
    classification = tables.get("classification") or []
    overview = [
        gallery.add(
            "overview_estimates",
            "Accuracy and AUROC with stored CIs per model and cell (scenario × scale)",
            figures_overview.estimates_by_cell(classification, cells, all_variants, colors),
        ),
        gallery.add(
            "overview_vs_scale",
            "Accuracy and AUROC against the scale factor with stored CIs",
            figures_overview.metric_vs_scale(classification, cell_meta, all_variants, colors),
        ),
        gallery.add(
            "overview_flips",
            "Flip matrix: share of images whose predicted class differs from HR",
            figures_overview.flip_matrix(tables.get("flips") or [], cells, all_variants),
        ),
    ]
    cell_sections = [
        _cell_section(run, i, cell, cell_meta.get(cell, {}), display, variants, colors, gallery)
        for i, cell in enumerate(cells, start=1)
    ]
    classifier = summary.classifier or ClassifierRecord()
    headline = build_headline(tables, cells, variants)
    statistics = summary.statistics or {}
    result_tables = page_tables(headline, statistics.get("primary_endpoints"))
    heads = [
        *(c.label or c.name for t in result_tables for c in t.columns),
        *(g["title"] for t in result_tables for g in t.groups),
        *all_variants,
        "SR",
        *(
            f"{e.text} {e.flag}"
            for t in result_tables
            for r in t.rows
            for e in r.values()
            if isinstance(e, Entry)
        ),
    ]
    provenance = classifier_provenance(run)
    page = Page(run, gallery, cells, variants, all_variants, colors)
    return {
        "suite": summary.suite,
        "run_id": summary.run_id,
        "facts": header_facts(run, provenance),
        "answers": _answers(summary, cells, cell_meta, all_variants, colors, gallery),
        "result_tables": result_tables,
        "legend": legend(heads, statistics.get("confidence")),
        "thumbnails": {
            "side": THUMB_SIDE,
            "quality": THUMB_QUALITY,
            "kb": THUMB_BYTES // 1000,
            "map_quality": MAP_QUALITY,
            "crop_quality": CROP_QUALITY,
        },
        "synthetic": bool(summary.synthetic_data),
        "data_note": summary.data_note or "",
        "variants": all_variants,
        "missing": run.missing,
        "methods": methods_paragraph(run.config_text, summary, class_counts(run), provenance),
        "headline": headline,
        "overview_figures": [f for f in overview if f],
        "cells": cell_sections,
        "classifier": {k: getattr(classifier, k) for k in ("source", "path", "sha256")},
        "classification_ci": ci_note(classification),
        "quality_ci": ci_note(tables.get("quality") or []),
        "seeds": _agreement(summary.seeds),
        "panel": _panel(summary.panel, variants),
        "leakage": {"text": sensitivity_text(summary), "table": html_table(sensitivity_frame(summary))},
        "sections": [
            {**shown, "id": section.ID, "title": section.TITLE, "template": section.TEMPLATE}
            for section in SECTIONS
            if (shown := section.context(page)) is not None
        ],
    }


def _agreement(section: dict[str, Any] | None) -> dict[str, Any] | None:
    """The sentence and tables of a comparison of classifiers (training seeds or a panel), if any."""
    if not section:
        return None
    kind = noun(section)
    return {
        "k": section.get("k"),
        "members": members(section),
        "primary": section.get(f"primary_{kind}"),
        "holds": bool(section.get(f"holds_across_{kind}s")),
        "headline": section.get("headline") or "",
        "conclusions": html_table(conclusions_frame(section)),
        "flips": html_table(agreement_flips_frame(section)),
    }


def _panel(section: dict[str, Any] | None, variants: list[str]) -> dict[str, Any] | None:
    """The panel's comparison and each further member's own diagnosis and flip tables (the first
    member's are the page's)."""
    if not section:
        return None
    shown = []
    for member in section.get("members") or []:
        tables = member.get("tables") or {}
        seeds = member.get("seeds") or {}
        shown.append(
            {
                "name": member.get("name"),
                "model": model_input(member.get("classifier") or {}),
                "source": member.get("source"),
                "path": member.get("path"),
                "sha256": member.get("sha256"),
                "seeds": _agreement(seeds) if seeds else None,
                "classification": html_table(
                    classification_frame(tables.get("classification") or [], variants)
                ),
                "non_inferiority": html_table(
                    noninferiority_frame(tables.get("non_inferiority") or [], variants)
                ),
                "flips": html_table(flips_frame(tables.get("flips") or [], variants)),
            }
        )
    return {**_agreement(section), "member_tables": shown}


def _answers(
    summary: RunSummary,
    cells: list[str],
    cell_meta: dict[str, dict[str, Any]],
    variants: list[str],
    colors: dict[str, Any],
    gallery: FigureGallery,
) -> list[dict[str, Any]]:
    """Each cell's answer line and its forest plot of the stored differences to HR."""
    return [
        {
            "cell": a.cell,
            "title": a.title,
            "text": a.text,
            "figure": gallery.add(
                f"answer_{slug(a.cell)}",
                f"Difference to HR [CI] per endpoint, {a.title}",
                figures_overview.forest_plot(a.differences, variants, colors),
            ),
        }
        for a in cell_answers(summary, cells, cell_meta, variants)
    ]


def _cell_section(
    run: RunData,
    index: int,
    cell: str,
    meta: dict[str, Any],
    display: dict[str, pd.DataFrame],
    variants: list[str],
    colors: dict[str, Any],
    gallery: FigureGallery,
) -> dict[str, Any]:
    """Everything shown for one cell (scenario × scale)."""
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
    shown = [gallery.add(f"{prefix}_{key}", title, fig) for key, title, fig in drawn]
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
