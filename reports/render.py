"""Render `runs/<suite>/<run-id>/report.html`: one self-contained page (tables, figures, image comparisons).

Everything the page shows is read from the run directory; images and figures are embedded as data
URIs, the only script is inline (table sorting), and the template is autoescaped, so names from the run
cannot inject markup. Every figure is also written to `figures/` as PDF and 300-dpi PNG for papers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from matplotlib.figure import Figure

from benchmark.pipeline.store import RunStore
from cxr_kernel import run_layout
from cxr_kernel.run_summary import ClassifierRecord, RunSummary
from reports import figures
from reports.formatting import ordered, variant_order
from reports.header import header_facts
from reports.provenance import classifier_provenance
from reports.rundir import RunData, load_run, png_data_uri
from reports.sections import (
    Page,
    answer,
    cells,
    headline,
    leakage,
    methods,
    panel,
    power,
    provenance,
    seeds,
    throughput,
    training,
)

TEMPLATES = Path(__file__).parent / "templates"
#: The page's sections in page order, their navigation links in the same order (``reports.sections``:
#: a module and its template block each).
SECTIONS = (answer, headline, seeds, leakage, panel, methods, cells, power, training, throughput, provenance)
CI_CELL = re.compile(r"^(\S+) (\[.+)$")
VERDICTS = {"non-inferior": "NI", "inferior": "inf.", "inconclusive": "?"}
CELL_TABLES = ("classification", "quality", "flips")


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
    """Template variables: the page's header facts, then each shown section's variables."""
    summary = run.summary
    cell_names, cell_meta = run_cells(summary)
    all_variants = run_variants(summary)
    found = classifier_provenance(run)
    page = Page(
        run=run,
        gallery=gallery,
        cells=cell_names,
        variants=variant_order(summary.variants),
        all_variants=all_variants,
        colors=figures.variant_colors(all_variants),
        cell_meta=cell_meta,
        provenance=found,
    )
    shown = {
        section.ID: {"id": section.ID, "title": section.TITLE, "template": section.TEMPLATE, **variables}
        for section in SECTIONS
        if (variables := section.context(page)) is not None
    }
    classifier = summary.classifier or ClassifierRecord()
    return {
        "suite": summary.suite,
        "run_id": summary.run_id,
        "facts": header_facts(run, found),
        "synthetic": bool(summary.synthetic_data),
        "data_note": summary.data_note or "",
        "variants": all_variants,
        "missing": run.missing,
        "classifier": {k: getattr(classifier, k) for k in ("source", "path", "sha256")},
        "links": [
            link
            for section in SECTIONS
            if section.ID in shown
            for link in shown[section.ID].get("links") or [(section.ID, section.TITLE)]
        ],
        "sections": list(shown.values()),
    }
