"""Throughput: the run's SR speed per model and, when `benchmark perf --out` measured it, perf.json."""

from __future__ import annotations

from typing import Any

from reports import figures_overview
from reports.sections import Page
from reports.tables import html_table, perf_figures_frame, perf_ratios_frame, throughput_frame

ID = "throughput"
TITLE = "Throughput"
TEMPLATE = "sections/throughput.html.j2"


def context(page: Page) -> dict[str, Any]:
    throughput = [t.model_dump(exclude_unset=True) for t in page.run.summary.throughput]
    return {
        "table": html_table(throughput_frame(throughput, page.variants)),
        "figure": page.gallery.add(
            "throughput",
            "SR throughput per model",
            figures_overview.throughput_bars(throughput, page.cells, page.all_variants, page.colors),
        ),
        "perf": _perf(page.run.perf),
    }


def _perf(perf: dict[str, Any] | None) -> dict[str, Any] | None:
    """The benchmark figures of `perf.json` when the run directory has one."""
    if not perf:
        return None
    environment = perf.get("environment") or {}
    device = environment.get("cuda_device") or environment.get("processor") or environment.get("platform")
    return {
        "device": str(device or "unknown device"),
        "started": str((perf.get("settings") or {}).get("started", "")),
        "ratios": html_table(perf_ratios_frame(perf)),
        "figures": html_table(perf_figures_frame(perf)),
        "skipped": [f"{s.get('group')} {s.get('name')}: {s.get('reason')}" for s in perf.get("skipped", [])],
    }
