"""What the report page and exports show: header facts, headline table, methods, comparisons, compare page.

Rendered from the fixed fake run of report_run.py; expected numbers are the ones that file stores.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmark.commands.cli import main
from reports import render_report, write_tables
from reports.compare import render_comparison
from reports.methods import methods_paragraph
from reports.rundir import load_run
from tests.support.report_run import (
    EVIL,
    N_IMAGES,
    add_hostile_example,
    add_newer_columns,
    as_summary,
    assert_self_contained,
    make_run,
)

ESCAPED_EVIL = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def newer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A lean run with the columns a newer analysis may add and a hostile example; rendered once."""
    run = make_run(tmp_path_factory.mktemp("newer"), lean=True)
    add_newer_columns(run)
    evil_id = add_hostile_example(run)
    write_tables(run)
    return run, evil_id, render_report(run).read_text(encoding="utf-8")


def _headline_cells(html: str, variant: str | None = None) -> list[tuple[str, str, str]]:
    """(classes, data-sort, text) of every data cell of the result tables (of one variant's rows if given)."""
    results = html[html.index('<section id="headline">') : html.index('<section id="methods">')]
    rows = [r for t in results.split("<tbody>")[1:] for r in t[: t.index("</tbody>")].split("<tr")]
    rows = [r for r in rows if variant is None or f'<td class="text">{variant}</td>' in r]
    return [
        cell for r in rows for cell in re.findall(r'<td class="(num[^"]*)" data-sort="([^"]*)">(.*?)</td>', r)
    ]


def test_header_states_data_code_environment_seeds_and_time(newer: tuple[Path, str, str]) -> None:
    run, _, html = newer
    manifest_sha = hashlib.sha256((run / "manifest.sha256").read_bytes()).hexdigest()
    header = html[: html.index("</header>")]
    assert manifest_sha in header and f"{N_IMAGES} checksums" in header
    assert "10 normal, 10 pneumonia" in header  # labels alternate over 20 images
    assert "git abc123" in header and "Python 3.11.9" in header and "numpy 2.0" in header
    assert "suite 1234" in header  # config.yaml seed; environment.json repeats it
    assert "12 min 30 s" in header  # started 23:47:30, summary created 00:00:00


def test_headline_marks_the_best_non_hr_value_per_column(newer: tuple[Path, str, str]) -> None:
    cells = _headline_cells(newer[2])
    best = [(float(sort), text) for classes, sort, text in cells if "best" in classes]
    # PSNR centres 28 + 2i for variant i (LR 1, bicubic 2, esrgan-tiny 3): esrgan-tiny's 34.00 is best.
    assert (34.0, '34.00 <span class="ci">[32.98, 35.02]</span>') in best
    # Accuracy 0.85 - 0.05 i at threshold 0.5 (the first stored): HR's 0.85 is never marked, LR's 0.80 is.
    assert any(key == pytest.approx(0.80) and text.startswith("0.800") for key, text in best)
    assert not any("best" in classes for classes, _, _ in _headline_cells(newer[2], "HR"))
    # Lower is better for log loss (0.81 - 0.05 i): esrgan-tiny's 0.66.
    assert any(key == pytest.approx(0.66) for key, _ in best)


def test_headline_shows_tests_vs_hr_with_every_stored_correction(newer: tuple[Path, str, str]) -> None:
    html = newer[2]
    tests = html[html.index('id="table-tests"') :]
    tests = tests[: tests.index("</thead>")]
    assert '<th class="group" colspan="3">McNemar Accuracy</th>' in tests
    for column, head in [
        ("McNemar Accuracy p", "p"),
        ("McNemar Accuracy p (Holm)", "p (Holm)"),
        ("DeLong AUROC p (BH)", "p (BH)"),
    ]:
        assert f'<th class="num" title="{column}">{head}</th>' in tests
    assert '<th class="num">Flips</th>' in html
    values = {(sort, text) for _, sort, text in _headline_cells(html)}
    assert ("0.48", "0.480") in values and ("0.0271", "0.027") in values and ("3.0", "3/20") in values
    assert "at threshold = 0.5 and" in html
    assert '15.0% <span class="ci">[5.0%, 36.0%]</span>' in html
    assert "sortable" in html and "addEventListener" in html


def test_newer_columns_appear_in_the_cell_tables(newer: tuple[Path, str, str]) -> None:
    html = newer[2]
    cell = html[html.index("Cell bicubic-x4") :]
    assert '<th class="num">Threshold</th>' in cell
    assert "0.788" in cell  # LR accuracy 0.80 at the Youden threshold: 0.80 - 0.0123
    assert '<th class="num">N discordant</th>' in cell and '<th class="num">p (BH)</th>' in cell
    assert '0.100 <span class="ci">[0.030, 0.300]</span>' in cell  # harmful with its CI
    confusion = cell[cell.index("Table <code>confusion</code>") :]
    assert '<th class="num">TP</th>' in confusion and '<td class="num">9</td>' in confusion


def test_hostile_file_names_render_escaped(newer: tuple[Path, str, str]) -> None:
    run, evil_id, html = newer
    assert EVIL not in html and "alert(1)</script>" not in html
    assert f"Image <code>{ESCAPED_EVIL}.png</code>" in html
    assert f"missing: examples/bicubic-x4/{ESCAPED_EVIL}__esrgan-tiny.png" in html
    assert_self_contained(html)


def test_comparison_has_crops_difference_maps_and_grad_cam(newer: tuple[Path, str, str]) -> None:
    html = newer[2]
    start = html.index(f"Image <code>{ESCAPED_EVIL}.png</code>")
    block = html[start : html.index('<p class="caption">', start)]
    panels = re.findall(r"<figcaption><b>([^<]+)</b>", block)
    assert panels[:2] == ["LR", "bicubic"] and panels[-1] == "HR"  # LR | each SR | HR
    assert block.count('class="crop"') == 3  # every stored image; the missing one has none
    assert 'alt="|bicubic − HR|"' in block and "|LR − HR|" not in block  # LR has another size
    assert 'alt="Grad-CAM, HR"' in block
    assert "class flipped by bicubic" in block and "pneumonia → normal" in block
    # The most flipped image comes first in its cell, though it was stored last.
    assert start < html.index("Image <code>img000</code>")


def test_methods_paragraph_comes_from_config_and_tables(newer: tuple[Path, str, str]) -> None:
    html = newer[2]
    methods = html[html.index('<p class="methods">') :]
    methods = methods[: methods.index("</p>")]
    assert "We evaluated 20 test images (10 normal and 10 pneumonia) from synthetic" in methods
    assert "bicubic ×4" in methods
    assert "McNemar (Accuracy)" in methods and "DeLong (AUROC)" in methods
    assert "Holm&#39;s step-down method" in methods and "Benjamini-Hochberg" in methods


def test_methods_paragraph_explains_the_quality_interval_method() -> None:
    config = "seed: 0\nmetrics: [ssim]\nstats: {confidence: 0.95, n_bootstrap: 2000}\n"
    quality = [{"metric": "ssim", "ci_method": "bootstrap-expanded-percentile"}]
    text = methods_paragraph(config, as_summary({"tables": {"quality": quality}}), {})
    assert "95% confidence intervals by method: bootstrap-expanded-percentile (SSIM)." in text
    assert "read at Hesterberg's expanded level" in text and "stay within each metric's range" in text
    assert "Hesterberg" not in methods_paragraph(config, as_summary({}), {})


def test_headline_and_per_test_tables_are_exported(newer: tuple[Path, str, str]) -> None:
    run = newer[0]
    tex = (run / "tables" / "headline.tex").read_text()
    assert "\\toprule" in tex and "\\bottomrule" in tex and "\\textbf{34.00 [32.98, 35.02]}" in tex
    assert "1.2e-05" in tex
    numbers = pd.read_csv(run / "tables" / "headline.csv")
    row = numbers[(numbers["Cell"] == "bicubic-x4") & (numbers["Variant"] == "esrgan-tiny")].iloc[0]
    assert row["PSNR (dB)"] == 34.0 and row["PSNR (dB) CI low"] == pytest.approx(34.0 * 0.97)
    for test in ("mcnemar", "delong"):
        assert "\\toprule" in (run / "tables" / f"paired_{test}.tex").read_text()
    assert pd.read_csv(run / "tables" / "confusion.csv")["tp"].tolist() == [9]
    assert "TP" in (run / "tables" / "confusion.tex").read_text()


def test_compare_renders_two_runs_side_by_side(tmp_path: Path) -> None:
    run_a = make_run(tmp_path / "a", lean=True)
    run_b = make_run(tmp_path / "b", lean=True, sr_models=["bicubic", "esrgan-v2"])
    config = run_b / "config.yaml"
    config.write_text(config.read_text().replace("seed: 1234", "seed: 99"))
    out = tmp_path / "cmp.html"
    assert main(["compare", str(run_a), str(run_b), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert '<th class="num">A</th><th class="num">B</th>' in html
    assert "esrgan-tiny" in html and "esrgan-v2" in html
    assert "-seed: 1234" in html and "+seed: 99" in html
    # The same stored HR accuracy in both runs: shown twice in its row, neither marked better.
    row = html[html.index('<td class="text">HR</td>') :]
    row = row[: row.index("</tr>")]
    assert row.count('data-sort="0.85"') == 2 and "best" not in row


def test_compare_default_output_is_in_run_a(tmp_path: Path) -> None:
    run_a = make_run(tmp_path / "a", lean=True)
    run_b = make_run(tmp_path / "b", lean=True)
    assert render_comparison(run_a, run_b) == run_a / "comparisons" / "demo_20240101-000000.html"


def test_benchmark_figures_of_perf_json_are_shown(tmp_path: Path) -> None:
    """`perf --out RUN` writes perf.json into the run; the page shows its ratios, figures and skips."""
    from benchmark.pipeline.perf.peers import compare_metrics, sample_pairs
    from benchmark.pipeline.perf.results import Results

    run = make_run(tmp_path, lean=True)
    results = Results(echo=False)
    compare_metrics(results, *sample_pairs(2, 32), repeats=1)
    results.skip("sr-peer", EVIL, "cannot import realesrgan")
    results.write(run / "perf.json", {"started": "2026-11-23T10:00:00+00:00"})
    html = render_report(run).read_text(encoding="utf-8")
    section = html[html.index('<section id="throughput">') : html.index('<section id="provenance">')]
    ssim = next(r for r in results.ratios if r["name"] == "ssim vs skimage")
    assert f"{ssim['ratio']:.2f}" in section and f"{ssim['max_abs_difference']:.1e}" in section
    assert "ssim skimage per-image loop" in section and "2026-11-23T10:00:00+00:00" in section
    assert f"Not measured: sr-peer {ESCAPED_EVIL}: cannot import realesrgan" in section
    assert EVIL not in html
    assert "perf.json" not in " ".join(load_run(run).missing)


def test_runs_without_perf_json_show_no_benchmark_section(newer: tuple[Path, str, str]) -> None:
    assert "Benchmark (perf.json)" not in newer[2]


def test_methods_paragraph_says_how_training_seeds_were_used() -> None:
    config = "seed: 0\nclassifier: {train: {epochs: 2}}\n"
    assert "seeds" not in methods_paragraph(config, as_summary({}), {})
    seeds = {"k": 3, "seeds": [0, 1, 2], "primary_seed": 0, "classifiers": [{"bootstrap_train": False}]}
    text = methods_paragraph(config, as_summary({"seeds": seeds}), {})
    assert "3 classifiers were trained with seeds 0, 1 and 2;" in text and "primary seed (0)" in text
    assert "bootstrap resample" not in text
    seeds["classifiers"].append({"bootstrap_train": True})
    assert "bootstrap resample" in methods_paragraph(config, as_summary({"seeds": seeds}), {})
