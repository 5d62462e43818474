"""Sections of the report page, one module each (listed in ``reports.render.SECTIONS``, in page order).

A section module has ``ID`` (its anchor), ``TITLE`` (its navigation link, and its heading unless the
block writes a longer one), ``TEMPLATE`` (its block, ``templates/sections/<id>.html.j2``, which reads its
variables as ``section.<name>``) and ``context(page)``: the block's variables built from the run, or None
to leave the section and its link out.  A section with several anchors (the cells) gives its links as
``links``, a list of (anchor, text), among its variables.  Adding a section is one module plus its
template block, and its line in ``SECTIONS`` (the order of the page and of its links).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.provenance import ClassifierProvenance
from reports.rundir import RunData


@dataclass(frozen=True)
class Page:
    """What every section may read: the run, the page's figure gallery (``render.FigureGallery``), the
    page's order of cells and variants, each cell's metadata and the classifier's provenance."""

    run: RunData
    gallery: Any
    cells: list[str]
    variants: list[str]  # HR, LR, then the suite's SR models
    all_variants: list[str]  # and any variant only the tables name
    colors: dict[str, Any]
    cell_meta: dict[str, dict[str, Any]]  # the suite's cells: scenario, scale, params
    provenance: ClassifierProvenance
