"""LaTeX (booktabs) tables from display frames; every string is escaped for pdflatex."""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.formatting import TEXT_COLUMNS

TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "→": r"$\to$",
    "–": "--",
}


def tex_escape(text: Any) -> str:
    """Escape text for LaTeX.

    Hand-written because pandas' `escape="latex"` leaves `<` and `>` (printed as ¡ ¿ under the default
    OT1 font encoding) and the arrow, which pdflatex cannot typeset from UTF-8.
    """
    return "".join(TEX_SPECIALS.get(ch, ch) for ch in str(text))


def to_latex(display: pd.DataFrame, caption: str, label: str, bold: pd.DataFrame | None = None) -> str:
    """Booktabs table: cell name printed once per group, `\\midrule` between cells.

    `bold` (same shape, booleans) sets the marked entries in `\\textbf`.
    """
    if display.empty:
        return f"% No records for {label} in this run.\n"
    starts = display["Cell"].ne(display["Cell"].shift()).to_numpy()
    frame = display.map(tex_escape)
    if bold is not None:
        frame = frame.where(~bold.astype(bool), "\\textbf{" + frame + "}")
    frame["Cell"] = frame["Cell"].where(starts, "")
    align = "".join("l" if c in TEXT_COLUMNS else "r" for c in frame.columns)
    latex = (
        frame.style.hide(axis="index")
        .format_index(tex_escape, axis=1)
        .to_latex(
            hrules=True,
            column_format=align,
            caption=tex_escape(caption),
            label=label,
            position_float="centering",
        )
    )
    # Styler writes one line per data row between \midrule and \bottomrule; separate the cells there.
    head, body = latex.split("\\midrule\n", 1)
    body_rows, tail = body.split("\\bottomrule", 1)
    lines = body_rows.splitlines(keepends=True)
    marked = [
        ("\\midrule\n" if start and i else "") + line
        for i, (start, line) in enumerate(zip(starts, lines, strict=True))
    ]
    return (
        "% Needs \\usepackage{booktabs}.\n" + head + "\\midrule\n" + "".join(marked) + "\\bottomrule" + tail
    )
