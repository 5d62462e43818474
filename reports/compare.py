"""Side-by-side page of two runs (e.g. two SR checkpoints): headline numbers, facts and config diff.

Like the report, it shows stored numbers only: each headline value of run A beside the one of run B,
the better of the two (where a metric has a direction) in bold. No difference or test between the runs
is computed; for that, put both models into one suite, where the paired tests see the same images.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from cxr_kernel import run_layout
from cxr_kernel.atomic import write_bytes
from reports import figures, figures_overview
from reports.formatting import ordered
from reports.header import header_facts
from reports.headline import Entry, Headline, build_headline
from reports.render import FigureGallery, environment, run_cells, run_variants
from reports.rundir import RunData, load_run


def _label(run: RunData) -> str:
    return f"{run.summary.suite}/{run.summary.run_id}"


def _side_by_side(a: Headline, b: Headline) -> dict[str, Any]:
    """Columns shared by the headline layout, each split into A and B; rows: union of (cell, variant)."""
    names = ordered([c.name for c in a.columns] + [c.name for c in b.columns], [])
    columns = {c.name: c for c in [*b.columns, *a.columns]}  # A's definition wins where both have one
    rows_a = {(r["Cell"], r["Variant"]): r for r in a.rows}
    rows_b = {(r["Cell"], r["Variant"]): r for r in b.rows}
    rows = []
    for key in ordered([*rows_a, *rows_b], list(rows_a)):
        pairs = []
        for name in names:
            entry_a, entry_b = rows_a.get(key, {}).get(name), rows_b.get(key, {}).get(name)
            pairs.append(_mark_better(entry_a, entry_b, columns[name].direction))
        rows.append({"cell": key[0], "variant": key[1], "pairs": pairs})
    return {"columns": names, "rows": rows}


def _mark_better(a: Entry | None, b: Entry | None, direction: int) -> tuple[Entry | None, Entry | None]:
    """Copies of the two entries with the better one (by the column's direction) marked."""
    copies = [None if e is None else Entry(e.text, e.key, e.low, e.high) for e in (a, b)]
    first, second = copies
    if direction and first and second and None not in (first.key, second.key) and first.key != second.key:
        a_better = (first.key > second.key) == (direction > 0)
        (first if a_better else second).best = True
    return first, second


def _relabelled(records: list[dict[str, Any]], suffix: str) -> list[dict[str, Any]]:
    return [{**r, "cell": f"{r.get('cell')} · {suffix}"} for r in records]


def render_comparison(run_a: Path, run_b: Path, out: Path | None = None) -> Path:
    """Write the side-by-side page of two run directories and return its path.

    Parameters
    ----------
    run_a, run_b : Path
        Run directories (`runs/<suite>/<run-id>/`), each with summary.json.
    out : Path, optional
        Where to write; default `run_a/comparisons/<suite-b>_<run-id-b>.html`.
    """
    a, b = load_run(Path(run_a)), load_run(Path(run_b))
    headlines = []
    for run in (a, b):
        cells, _ = run_cells(run.summary)
        headlines.append(build_headline(run.summary.tables, cells, run_variants(run.summary)))
    variants = ordered([*run_variants(a.summary), *run_variants(b.summary)], [])
    cells_a, _ = run_cells(a.summary)
    cells_b, _ = run_cells(b.summary)
    side_cells = [f"{c} · {s}" for c in ordered([*cells_a, *cells_b], cells_a) for s in ("A", "B")]
    gallery = FigureGallery(paper=False)
    figure = gallery.add(
        "compare_estimates",
        "Accuracy and AUROC with stored CIs, run A beside run B per cell",
        figures_overview.estimates_by_cell(
            _relabelled(a.summary.rows("classification"), "A")
            + _relabelled(b.summary.rows("classification"), "B"),
            side_cells,
            variants,
            figures.variant_colors(variants),
        ),
    )
    config_diff = list(
        difflib.unified_diff(
            (a.config_text or "").splitlines(),
            (b.config_text or "").splitlines(),
            fromfile=f"A {_label(a)}/config.yaml",
            tofile=f"B {_label(b)}/config.yaml",
            lineterm="",
        )
    )
    html = (
        environment()
        .get_template("compare.html.j2")
        .render(
            runs=[
                {
                    "name": name,
                    "label": _label(run),
                    "facts": header_facts(run),
                    "synthetic": run.summary.synthetic_data,
                }
                for name, run in (("A", a), ("B", b))
            ],
            table=_side_by_side(*headlines),
            settings=[h.setting for h in headlines],
            figure=figure,
            config_diff="\n".join(config_diff),
        )
    )
    target = Path(out) if out else a.run_dir / run_layout.comparison(b.summary.suite, b.summary.run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes(target, html.encode("utf-8"))
