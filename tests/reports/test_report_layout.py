"""The page answers first and fits: on a 200-image, 5-cell, 6-variant study (the `kermany-hr` shape)
the answer block and the diagnosis table fit a 1280-px window in headless Chromium, the page stays under
5 MB, and the answer lines, legend and methods say what the stored tables and records say.

The Chromium checks inject a measuring script into a copy of the page and read its verdicts from
`--dump-dom`; they are skipped where Debian's `chromium` is not installed, the rest always run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reports import render_report
from reports.answer import cell_answers, seed_agreement_phrase
from reports.precision import distinguishing_decimals, fmt_interval
from reports.render import run_cells, run_variants
from tests.reports.test_report_browser import CHROMIUM, chromium, console_messages, marker
from tests.support.report_run import (
    STUDY_CELLS,
    STUDY_IMAGES,
    STUDY_MODELS,
    as_summary,
    assert_self_contained,
    make_study_run,
)

MAX_BYTES = 5_000_000
WIDTH = 1280
PRINT_WIDTH = 1032  # A4 landscape less the print stylesheet's 12-mm margins, in CSS px (96 per inch)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's `chromium` is not installed")
MEASURE = Path(__file__).with_name("report_layout.js")  # injected into a copy of the page


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run = make_study_run(tmp_path_factory.mktemp("study"))
    return run, render_report(run).read_text(encoding="utf-8")


def _measured(page: Path, work: Path, width: int = WIDTH, printed: bool = False) -> str:
    """The DOM of `page` with the measuring script, rendered `width` px wide; `printed` applies the
    print stylesheet on screen (headless Chromium cannot measure a printed page)."""
    measured = work / "measured.html"
    html = page.read_text(encoding="utf-8")
    if printed:
        assert "@media print {" in html
        html = html.replace("@media print {", "@media all {")
    script = f"<script>{MEASURE.read_text()}</script>"
    measured.write_text(html.replace("</body>", script + "</body>"))
    result = chromium(measured, work, f"--window-size={width},1600", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_messages(result.stderr) == []
    return result.stdout


def test_study_report_is_under_5_mb_and_self_contained(study: tuple[Path, str]) -> None:
    run, html = study
    size = (run / "report.html").stat().st_size
    assert size < MAX_BYTES, f"report.html is {size / 1e6:.2f} MB"
    assert_self_contained(html)
    # Full-size example images are linked (files in the run directory), not embedded.
    links = re.findall(r'<a href="(examples/[^"]+\.png)"', html)
    assert links and all((run / link).is_file() for link in links)
    assert "data:image/webp;base64," in html


@needs_chromium
def test_answer_and_diagnosis_table_fit_1280_px(study: tuple[Path, str], tmp_path: Path) -> None:
    run, _ = study
    dom = _measured(run / "report.html", tmp_path)
    assert marker(dom, "data-width") == str(WIDTH)
    assert marker(dom, "data-answer-fits") == "true"
    assert marker(dom, "data-diagnosis-fits") == "true"
    assert marker(dom, "data-tables-fit") == "true"
    assert marker(dom, "data-scrolls") == "false"
    assert marker(dom, "data-order") == "true"
    assert marker(dom, "data-sticky") == "true"


@needs_chromium
def test_print_stylesheet_puts_every_column_on_an_a4_landscape_page(
    study: tuple[Path, str], tmp_path: Path
) -> None:
    dom = _measured(study[0] / "report.html", tmp_path, PRINT_WIDTH, printed=True)
    assert marker(dom, "data-width") == str(PRINT_WIDTH)
    assert marker(dom, "data-tables-fit") == "true" and marker(dom, "data-scrolls") == "false"


@needs_chromium
def test_layout_check_catches_a_table_too_wide(tmp_path: Path) -> None:
    """The measurement can fail: a 2,000-px diagnosis table is reported as not fitting."""
    page = tmp_path / "wide.html"
    page.write_text(
        '<!DOCTYPE html><html><body><section id="answer"><p>answer</p></section>'
        '<div><table class="fit" id="table-diagnosis" style="width: 2000px"><tr><th>a</th><td>1</td></tr>'
        "</table></div></body></html>"
    )
    dom = _measured(page, tmp_path)
    assert marker(dom, "data-diagnosis-fits") == "false" and marker(dom, "data-tables-fit") == "false"
    assert marker(dom, "data-answer-fits") == "true" and marker(dom, "data-sticky") == "false"


def _answer_block(html: str) -> str:
    return html[html.index('<section id="answer">') : html.index('<section id="headline">')]


def test_answer_block_has_one_line_and_forest_plot_per_cell(study: tuple[Path, str]) -> None:
    run, html = study
    block = _answer_block(html)
    assert block.count('<div class="answer">') == len(STUDY_CELLS)
    assert block.count('<img class="forest"') == len(STUDY_CELLS)
    summary = json.loads((run / "summary.json").read_text())
    verdicts = {(r["cell"], r["metric"]): r["verdict"] for r in summary["tables"]["non_inferiority"]}
    models = " and ".join([", ".join(STUDY_MODELS[:-1]), STUDY_MODELS[-1]])
    for cell in STUDY_CELLS:
        line = block[block.index(f"<b>{cell['scenario']} ×{cell['scale']}:</b>") :]
        line = line[: line.index("</p>")]
        # The fixture's verdicts: sensitivity and AUROC non-inferior, specificity inferior, accuracy open.
        assert verdicts[(cell["cell"], "sensitivity")] == "non-inferior"
        assert f"{models} are non-inferior in sensitivity and AUROC" in line
        assert f"{models} are inferior in specificity" in line
        assert "no SR variant is shown non-inferior to HR in accuracy" in line
        assert "margins 0.02 for accuracy, sensitivity and specificity, 0.01 for AUROC" in line
        # 3 flips of each variant: 2 normal → pneumonia, 1 pneumonia → normal.
        assert (
            f"3 of {STUDY_IMAGES} diagnoses change per SR variant: 2 towards pneumonia, 1 towards normal"
            in line
        )
        assert "one classifier (seed variance not measured)" in line


def test_diagnosis_table_shows_the_judged_difference_with_its_verdict(study: tuple[Path, str]) -> None:
    html = study[1]
    table = html[html.index('id="table-diagnosis"') :]
    table = table[: table.index("</table>")]
    # Sensitivity of every variant: the stored McNemar difference -0.05 [-0.2, 0.1] shifted by 0.19.
    tag = '<span class="verdict v-non-inferior" title="non-inferior">NI</span>'
    assert f'0.140 {tag} <span class="ci">[-0.010, 0.290]</span>' in table
    assert 'title="inferior">inf.</span>' in table and 'title="inconclusive">?</span>' in table


def test_answer_lines_follow_the_stored_tables() -> None:
    """Change a stored verdict or flip count and the sentence changes with it."""
    flips = [
        {"cell": "c", "variant": v, "n": 50, "n_flips": k, "normal_to_pneumonia": k, "pneumonia_to_normal": 0}
        for v, k in [("sr-a", 4), ("sr-b", 7), ("LR", 30)]
    ]
    margins = [
        {
            "cell": "c",
            "variant": v,
            "metric": "sensitivity",
            "margin": 0.05,
            "difference": -0.01,
            "ci_low": -0.04,
            "ci_high": 0.02,
            "verdict": verdict,
        }
        for v, verdict in [("sr-a", "non-inferior"), ("sr-b", "inconclusive"), ("LR", "inferior")]
    ]
    summary = {
        "tables": {"flips": flips, "non_inferiority": margins},
        "variants": ["HR", "LR", "sr-a", "sr-b"],
    }
    cells, meta = run_cells(as_summary({**summary, "cells": [{"cell": "c", "scenario": "blur", "scale": 2}]}))
    (answer,) = cell_answers(as_summary(summary), cells, meta, run_variants(as_summary(summary)))
    assert answer.title == "blur ×2"
    assert answer.text == (
        "sr-a is non-inferior in sensitivity (margin 0.05); the other comparisons are inconclusive; "
        "4 to 7 of 50 diagnoses change per SR variant (sr-b: 7, all towards pneumonia); "
        "one classifier (seed variance not measured)."
    )
    flips[0].update(n_flips=7, normal_to_pneumonia=6, pneumonia_to_normal=1)  # equal counts, other directions
    (answer,) = cell_answers(as_summary(summary), cells, meta, run_variants(as_summary(summary)))
    assert "; 7 of 50 diagnoses change per SR variant; " in answer.text
    margins[0]["verdict"] = "inconclusive"
    (answer,) = cell_answers(as_summary(summary), cells, meta, run_variants(as_summary(summary)))
    assert answer.text.startswith(
        "no SR variant is shown non-inferior to HR in sensitivity (margin 0.05); every"
    )


def test_answer_without_margins_reads_the_holm_adjusted_tests() -> None:
    paired = [
        {
            "cell": "c",
            "variant": "sr",
            "reference": "HR",
            "test": "mcnemar",
            "metric": "accuracy",
            "difference": -0.1,
            "ci_low": -0.2,
            "ci_high": 0.0,
            "p_value": 0.001,
            "p_adjusted": 0.004,
            "family": "primary",
        }
    ]
    summary = {
        "tables": {"paired_tests": paired},
        "statistics": {"confidence": 0.95},
        "variants": ["HR", "sr"],
    }
    (answer,) = cell_answers(as_summary(summary), ["c"], {}, ["HR", "sr"])
    assert answer.text.startswith("differences from HR: sr in accuracy (Holm p 0.004)")
    paired[0]["p_adjusted"] = 0.2
    (answer,) = cell_answers(as_summary(summary), ["c"], {}, ["HR", "sr"])
    assert answer.text.startswith("no SR variant differs from HR in accuracy (Holm-adjusted p ≥ 0.05;")


def test_legend_explains_every_abbreviation_of_the_tables(study: tuple[Path, str]) -> None:
    html = study[1]
    legend = html[html.index('<dl class="legend"') :]
    legend = legend[: legend.index("</dl>")]
    for term in (
        "HR",
        "AUROC",
        "[CI]",
        "Δ vs HR",
        "NI / inf. / ?",
        "p, p (Holm), p (BH)",
        "Flips",
        "PSNR",
        "n",
    ):
        assert f"<dt>{term}</dt>" in legend.replace("&lt;", "<"), term
    assert "LPIPS" not in legend  # the run has none


def test_numbers_keep_the_digits_that_tell_them_apart() -> None:
    # AUROCs 0.9962 and 0.9981 are not both "1.00"; a bound of 0.9953 under an estimate of 1 shows.
    assert distinguishing_decimals([[0.9962, 0.9981, 1.0]]) == 3
    assert (
        fmt_interval(1.0, 0.9953, 1.0, distinguishing_decimals([[1.0, 0.9953, 1.0]]))
        == "1.000 [0.995, 1.000]"
    )
    assert fmt_interval(0.5, 0.5, 0.5, 2) == "0.50 [0.50, 0.50] (zero width)"
    assert distinguishing_decimals([[0.91, 0.92], [31.5, 31.6]]) == 2  # no extra digits when not needed


def test_the_seed_phrase_counts_conclusions_and_flips_that_hold_across_seeds():
    summary = {"tables": {}}
    assert seed_agreement_phrase(as_summary(summary), "c") == "one classifier (seed variance not measured)"
    test = {"cell": "c", "family": "primary", "holds": True}
    summary["seeds"] = {
        "k": 3,
        "tables": {
            "paired_tests": [
                test,
                {**test, "family": "exploratory", "holds": False},
                {**test, "cell": "d", "holds": False},
            ],
            "non_inferiority": [{"cell": "c", "holds": True}],
            "flipped_images": [{"cell": "c", "consistent": True}, {"cell": "c", "consistent": False}],
        },
    }
    assert seed_agreement_phrase(as_summary(summary), "c") == (
        "consistent across 3 classifier seeds (1 of 2 flipped diagnoses flip with every seed)"
    )
    summary["seeds"]["tables"]["non_inferiority"][0]["holds"] = False
    assert seed_agreement_phrase(as_summary(summary), "c").startswith(
        "1 of 2 conclusions do not hold across 3 classifier seeds"
    )
    assert (
        seed_agreement_phrase(as_summary(summary), "d")
        == "1 of 1 conclusions do not hold across 3 classifier seeds"
    )
