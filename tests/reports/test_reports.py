"""Tests for reports/: the HTML page and the CSV/TeX tables rendered from a fake run directory."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxr_kernel.errors import UserError
from reports import RunFileInvalid, RunFileMissing, render_report, write_tables
from reports.formatting import decimals_for, fmt_ci, fmt_p, fmt_percent
from tests.support.report_run import BANNER, CELLS, EVIL, N_IMAGES, assert_self_contained, make_run


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run = make_run(tmp_path_factory.mktemp("report"))
    return run, render_report(run).read_text(encoding="utf-8")


def test_report_is_written_as_report_html_in_the_run_dir(rendered: tuple[Path, str]) -> None:
    run, _ = rendered
    assert [p.name for p in run.iterdir() if p.suffix == ".html"] == ["report.html"]
    assert not list(run.rglob("*.tmp")), "atomic write left a temp file behind"


def test_report_has_no_external_references(rendered: tuple[Path, str]) -> None:
    assert_self_contained(rendered[1])


def test_report_shows_stored_numbers_formatted(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    # HR accuracy of the fake run: 0.85 [0.64, 0.948]; AUROC p-value 1.2e-5 shows with two digits.
    assert '0.850 <span class="ci">[0.640, 0.948]</span>' in html
    assert "1.2e-05" in html
    assert "15.0%" in html  # stored flip_rate 0.15
    assert "python -m benchmark run --suite demo" in html
    assert "seed: 1234" in html and "abc123" in html  # config.yaml and environment.json verbatim
    assert f"{N_IMAGES} image checksums" in html


def test_report_groups_results_by_cell(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    first, second = html.index("Cell bicubic-x4"), html.index("Cell bicubic-noise-x2")
    assert first < second
    assert "Scenario <b>bicubic-noise</b>" in html[second:]


def test_report_embeds_every_strip_image_as_its_png_bytes(rendered: tuple[Path, str]) -> None:
    run, html = rendered
    uris = set(re.findall(r'src="data:image/png;base64,([^"]+)"', html))
    for example in json.loads((run / "examples" / "index.json").read_text()):
        for relative in example["images"].values():
            assert base64.b64encode((run / relative).read_bytes()).decode() in uris
    assert html.count('class="pixelated"') == len(CELLS)  # the LR image of each strip


def test_report_embeds_figures_and_saves_them_for_papers(rendered: tuple[Path, str]) -> None:
    run, html = rendered
    per_cell = ("classification", "quality", "roc", "reliability", "quality_vs_change")
    expected = {f"{c['cell']}_{kind}" for c in CELLS for kind in per_cell} | {
        *(f"answer_{c['cell']}" for c in CELLS),
        "overview_estimates",
        "overview_flips",
        "throughput",
        "training_SR_model_esrgan-tiny",
        "training_Classifier",
    }
    saved = {p.stem for p in (run / "figures").glob("*.png")}
    assert saved == expected
    for name in expected:
        with Image.open(run / "figures" / f"{name}.png") as image:
            assert round(image.info["dpi"][0]) == 300
        assert (run / "figures" / f"{name}.pdf").read_bytes().startswith(b"%PDF")
        assert f"figures/{name}.pdf" in html  # each embedded figure names its paper file
    embedded = re.findall(
        r'<figure><img src="data:image/png;base64,|<img class="forest" src="data:image/png', html
    )
    assert len(embedded) == len(expected)


@pytest.mark.parametrize("synthetic", [True, False])
def test_synthetic_banner_shown_only_for_synthetic_runs(tmp_path: Path, synthetic: bool) -> None:
    run = make_run(tmp_path, synthetic=synthetic, lean=True)
    html = render_report(run).read_text(encoding="utf-8")
    assert (BANNER in html) is synthetic


def test_malicious_variant_name_is_escaped(tmp_path: Path) -> None:
    # "$\\frac$" would be invalid mathtext: figures draw names as plain text.
    run = make_run(tmp_path, sr_models=["bicubic", EVIL, "$\\frac$"], lean=True)
    html = render_report(run).read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "$\\frac$" in html


def test_example_path_outside_the_run_dir_is_not_embedded(tmp_path: Path) -> None:
    run = make_run(tmp_path, lean=True)
    secret = tmp_path / "outside.png"
    secret.write_bytes((run / "examples" / "bicubic-x4" / "img000_HR.png").read_bytes()[:-1] + b"\x00")
    index = json.loads((run / "examples" / "index.json").read_text())
    index[0]["images"]["bicubic"] = "../../../outside.png"
    (run / "examples" / "index.json").write_text(json.dumps(index))
    html = render_report(run).read_text(encoding="utf-8")
    assert base64.b64encode(secret.read_bytes()).decode() not in html
    assert "missing: ../../../outside.png" in html


def test_report_of_a_partial_run_names_the_missing_files(tmp_path: Path) -> None:
    run = make_run(tmp_path, lean=True)
    for name in ("predictions.parquet", "config.yaml", "examples/index.json"):
        (run / name).unlink()
    html = render_report(run).read_text(encoding="utf-8")
    assert "Not found in the run directory" in html
    for name in ("results.parquet", "predictions.parquet", "config.yaml", "examples/index.json"):
        assert name in html


@pytest.mark.parametrize("call", [render_report, write_tables])
def test_missing_summary_names_the_file_and_the_fix(tmp_path: Path, call) -> None:
    run = make_run(tmp_path, lean=True)
    (run / "summary.json").unlink()
    with pytest.raises(
        RunFileMissing, match=r"summary\.json.*`python -m benchmark run --suite demo` first"
    ) as err:
        call(run)
    assert isinstance(err.value, UserError) and isinstance(err.value, FileNotFoundError)


def test_missing_run_dir_says_to_run_the_suite(tmp_path: Path) -> None:
    with pytest.raises(RunFileMissing, match=r"does not exist.*python -m benchmark run"):
        render_report(tmp_path / "runs" / "demo" / "nope")


def test_corrupt_summary_names_the_file(tmp_path: Path) -> None:
    run = make_run(tmp_path, lean=True)
    (run / "summary.json").write_text("{not json")
    with pytest.raises(RunFileInvalid, match=r"summary\.json"):
        write_tables(run)


@pytest.mark.parametrize("tables", [[], {"quality": {"cell": "a"}}, {"flips": [1, 2]}])
def test_malformed_tables_in_summary_name_the_file(tmp_path: Path, tables) -> None:
    run = make_run(tmp_path, lean=True)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "tables": tables}))
    with pytest.raises(RunFileInvalid, match=r"summary\.json.*list of records"):
        write_tables(run)


def test_predictions_without_expected_columns_name_the_file(tmp_path: Path) -> None:
    run = make_run(tmp_path, lean=True)
    pd.DataFrame({"cell": ["a"], "p": [0.5]}).to_parquet(run / "predictions.parquet")
    with pytest.raises(RunFileInvalid, match=r"predictions\.parquet"):
        render_report(run)


def test_write_tables_csv_round_trips_with_pandas(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    written = write_tables(run)
    assert {p.name for p in written} >= {
        f"{t}.{ext}" for t in ("quality", "classification", "paired_tests", "flips") for ext in ("csv", "tex")
    }
    summary = json.loads((run / "summary.json").read_text())
    for name in ("quality", "classification", "paired_tests", "flips", "flipped_images"):
        stored = pd.DataFrame(summary["tables"][name])
        back = pd.read_csv(run / "tables" / f"{name}.csv")
        pd.testing.assert_frame_equal(back[stored.columns], stored, check_dtype=False)


def test_tex_tables_are_booktabs_with_ci_and_formatted_p(tmp_path: Path) -> None:
    run = make_run(tmp_path, sr_models=["bicubic", EVIL])
    write_tables(run)
    classification = (run / "tables" / "classification.tex").read_text()
    assert (
        "\\toprule" in classification and "\\midrule" in classification and "\\bottomrule" in classification
    )
    assert "0.850 [0.640, 0.948]" in classification
    assert "\\textless{}script\\textgreater{}alert(1)" in classification and "<script>" not in classification
    paired = (run / "tables" / "paired_tests.tex").read_text()
    assert "1.2e-05" in paired and "0.960" in paired
    flips = (run / "tables" / "flips.tex").read_text()
    assert "15.0\\%" in flips and "$\\to$" in flips
    # The cell name is printed once per group of rows, with a rule between cells.
    assert classification.count("bicubic-x4") == 1 and classification.count("\\midrule") == len(CELLS)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0004, "4.0e-04"),
        (3.14159e-7, "3.1e-07"),
        (1e-10, "1.0e-10"),
        (9.9e-11, "<1e-10"),
        (0.0, "<1e-10"),
        (1e-300, "<1e-10"),
        (0.001, "0.001"),
        (0.0456, "0.046"),
        (1.0, "1.000"),
        (None, "–"),
        (float("nan"), "–"),
    ],
)
def test_p_values_are_formatted_for_reading(p: float | None, text: str) -> None:
    assert fmt_p(p) == text


def test_ci_and_percent_formatting_keep_missing_values_visible() -> None:
    assert fmt_ci(0.9123, 0.8811, 0.9364, 3) == "0.912 [0.881, 0.936]"
    assert fmt_ci(0.9123, None, float("nan"), 3) == "0.912"
    assert fmt_ci(float("nan"), 0.1, 0.2, 2) == "– [0.10, 0.20]"
    assert fmt_percent(0.125) == "12.5%" and fmt_percent(None) == "–"


@pytest.mark.parametrize(
    ("values", "decimals"),
    [
        ([0.91, 0.05], 3),
        ([31.4, 28.0], 2),
        ([0.0012, 0.0009], 5),
        ([np.nan, None], 3),
        ([0.0], 3),
        ([1e-12], 6),
    ],
)
def test_decimals_show_three_significant_digits_of_the_largest_value(values: list, decimals: int) -> None:
    assert decimals_for(values) == decimals


def test_an_interval_bound_a_rounding_inside_its_estimate_still_draws():
    """12 of 12 correct: the stored Wilson upper bound is 0.9999999999999999, below the estimate 1."""
    from reports.figures import classification_and_flips, variant_colors
    from reports.figures_overview import estimates_by_cell

    record = {"cell": "c", "variant": "HR", "metric": "accuracy", "estimate": 1.0}
    records = [{**record, "ci_low": 0.6456695649333125, "ci_high": 0.9999999999999999}]
    colors = variant_colors(["HR"])
    assert estimates_by_cell(records, ["c"], ["HR"], colors) is not None
    assert classification_and_flips(records, [], ["HR"], colors) is not None
