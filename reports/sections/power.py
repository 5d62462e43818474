"""Sample size and power: beside each variant's observed accuracy change to HR, the smallest change the
cell's images could detect (the run's ``power`` table), so "no difference shown" reads as "none this
large" and not as "none at all".  Every number is the run's; the section computes nothing."""

from __future__ import annotations

from typing import Any

import pandas as pd

from benchmark.stats.inputs import REFERENCE
from reports.formatting import fmt_ci, fmt_int, fmt_num, fmt_percent, is_missing, ordered
from reports.sections import Page
from reports.tables import html_table

ID = "power"
TITLE = "Sample size and power"
TEMPLATE = "sections/power.html.j2"
DECIMALS = 3


def context(page: Page) -> dict[str, Any] | None:
    """None when the run stored no power table (it has no predictions)."""
    summary = page.run.summary
    power = summary.rows("power")
    if not power:
        return None
    observed = {
        (r.get("cell"), r.get("variant")): r
        for r in summary.rows("paired_tests")
        if (r.get("test"), r.get("metric"), r.get("reference")) == ("mcnemar", "accuracy", REFERENCE)
    }
    cell_rank = {c: i for i, c in enumerate(ordered([r.get("cell") for r in power], page.cells))}
    variant_rank = {v: i for i, v in enumerate(ordered([r.get("variant") for r in power], page.variants))}
    rows = []
    for r in sorted(power, key=lambda r: (cell_rank[r.get("cell")], variant_rank[r.get("variant")])):
        test = observed.get((r.get("cell"), r.get("variant")), {})
        rows.append(
            {
                "Cell": r.get("cell"),
                "Variant": r.get("variant"),
                "Images": fmt_int(r.get("n")),
                "Discordant with HR": fmt_percent(r.get("discordant_fraction")),
                "Δ accuracy [CI]": fmt_ci(
                    test.get("difference"), test.get("ci_low"), test.get("ci_high"), DECIMALS
                ),
                f"Detectable Δ ({fmt_percent(r.get('power'))} power)": fmt_num(
                    r.get("detectable_difference"), DECIMALS
                ),
                "Reading": reading(test, r),
            }
        )
    statistics = summary.statistics or {}
    return {
        "table": html_table(pd.DataFrame(rows)),
        "clustered": statistics.get("unit_of_analysis") == "patient",
        "n_patients": statistics.get("n_patients"),
    }


def reading(test: dict[str, Any], power: dict[str, Any]) -> str:
    """What the stored interval and detectable difference say together, in words."""
    low, high = test.get("ci_low"), test.get("ci_high")
    detectable = power.get("detectable_difference")
    if is_missing(detectable):
        return str(power.get("note") or "no detectable difference stored")
    if is_missing(low) or is_missing(high):
        return "no interval stored"
    if low > 0 or high < 0:
        return "a change to HR (its CI excludes 0)"
    return f"no change shown; one smaller than {fmt_num(detectable, DECIMALS)} would likely be missed"
