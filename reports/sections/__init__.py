"""Sections of the report page, one module each (listed in ``reports.render.SECTIONS``, in page order).

A section module has ``ID`` (its anchor), ``TITLE`` (its heading and navigation link), ``TEMPLATE`` (its
block, ``templates/sections/<id>.html.j2``, which reads its variables as ``section.<name>``) and
``context(page)``: the block's variables built from the run, or None to leave the section out.  Adding a
section is one module plus its template block, and its line in ``SECTIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reports.rundir import RunData


@dataclass(frozen=True)
class Page:
    """What every section may read: the run, the page's figure gallery (``render.FigureGallery``) and
    the page's order of cells and variants."""

    run: RunData
    gallery: Any
    cells: list[str]
    variants: list[str]  # HR, LR, then the suite's SR models
    all_variants: list[str]  # and any variant only the tables name
    colors: dict[str, Any]
