"""Paper exports: `tables/*.csv` (stored records, for machines) and `tables/*.tex` (booktabs, for papers)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmark.pipeline.store import RunStore
from cxr_kernel.run_layout import TABLES_DIR
from reports.agreement import conclusions_frame
from reports.formatting import column_label, test_label, variant_order
from reports.headline import build_headline, headline_frames
from reports.latex import to_latex
from reports.rundir import load_summary
from reports.tables import (
    ci_note,
    classification_frame,
    flips_frame,
    generic_frame,
    n_note,
    noninferiority_frame,
    paired_frame,
    quality_frame,
    records_frame,
)

# Tables with a layout of their own; any other stored table is exported with the generic one.
BUILDERS = {
    "quality": (quality_frame, "Image quality against HR, mean [CI]"),
    "classification": (classification_frame, "Classification, estimate [CI]"),
    "paired_tests": (paired_frame, "Paired tests of each variant against its reference, raw and adjusted p"),
    "flips": (flips_frame, "Predictions that change class relative to HR"),
    "non_inferiority": (
        noninferiority_frame,
        "Non-inferiority (one-sided bound against -margin) and TOST equivalence of each variant against HR",
    ),
}


def write_tables(run_dir: Path) -> list[Path]:
    """Write every stored table as CSV, and TeX for the headline, each table and each paired test.

    CSV files hold the stored records unchanged (they round-trip with `pandas.read_csv`), except
    `headline.csv`, which holds the headline's numbers with their CI bounds. TeX files hold the formatted
    tables (`estimate [CI low, CI high]`, p-values as `<0.001`, best headline values in bold) with
    booktabs rules.

    Parameters
    ----------
    run_dir : Path
        `runs/<suite>/<run-id>/` containing summary.json.

    Returns
    -------
    list[Path]
        The files written, CSV before TeX for each table.
    """
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)
    tables, variants = summary.tables, variant_order(summary.variants)
    origin = f"{summary.suite}, run {summary.run_id}"
    store = RunStore(run_dir)
    written = []

    def write(name: str, csv: pd.DataFrame | None, tex: str | None) -> None:
        if csv is not None:
            written.append(
                store.write_bytes(f"{TABLES_DIR}/{name}.csv", csv.to_csv(index=False).encode("utf-8"))
            )
        if tex is not None:
            written.append(store.write_bytes(f"{TABLES_DIR}/{name}.tex", tex.encode("utf-8")))

    cells = [c.cell for c in summary.cells]
    headline = build_headline(tables, cells, variants)
    display, best, numbers = headline_frames(headline)
    setting = f"; classification at {headline.setting}" if headline.setting else ""
    caption = f"Headline results ({origin}): estimate [CI], best non-HR value per cell in bold{setting}"
    write("headline", numbers, to_latex(display, caption, "tab:headline", bold=best))

    for name in [*BUILDERS, *(t for t in tables if t not in BUILDERS)]:
        records = tables.get(name) or []
        if name in BUILDERS:
            build, caption = BUILDERS[name]
            caption = f"{caption} ({origin})"
            if name in ("quality", "classification"):
                methods, counted = ci_note(records), n_note(records)
                caption += f". CI methods: {methods}" if methods else ""
                caption += f". {counted}" if counted else ""
            tex = to_latex(build(records, variants), caption, f"tab:{name}")
        elif records and all("cell" in r for r in records):
            tex = to_latex(generic_frame(records), f"{column_label(name)} ({origin})", f"tab:{name}")
        else:
            tex = None
        write(name, records_frame(records, name), tex)

    for key, across in (("seeds", "training seeds"), ("panel", "classifiers")):
        section = getattr(summary, key) or {}
        for name, records in (section.get("tables") or {}).items():
            write(f"{key}_{name}", records_frame(records, f"{key}_{name}"), None)
        if section:
            caption = (
                f"Conclusions across {section.get('k')} {across} ({origin}): {section.get('headline', '')}"
            )
            write(key, None, to_latex(conclusions_frame(section), caption, f"tab:{key}"))
    for member in (summary.panel or {}).get("members") or []:
        for name, records in (member.get("tables") or {}).items():
            write(f"panel_{member['name']}_{name}", records_frame(records, name), None)

    paired = records_frame(tables.get("paired_tests"), "paired_tests")
    for test in dict.fromkeys(paired["test"].dropna()):
        records = paired[paired["test"] == test].to_dict("records")
        caption = f"{test_label(test)} tests of each variant against its reference ({origin})"
        tex = to_latex(paired_frame(records, variants), caption, f"tab:paired-{test}")
        write(f"paired_{test}", None, tex)
    return written
