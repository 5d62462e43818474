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

from benchmark.errors import UserError
from reports import RunFileInvalid, RunFileMissing, render_report, write_tables
from reports.formatting import decimals_for, fmt_ci, fmt_p, fmt_percent

CELLS = [
    {"cell": "bicubic-x4", "scenario": "bicubic", "scale": 4, "params": {}},
    {"cell": "blur-noise-x2", "scenario": "blur_noise", "scale": 2, "params": {"sigma": 1.2, "noise": 0.01}},
]
SR_MODELS = ["bicubic", "esrgan-tiny"]
N_IMAGES = 20
BANNER = "The images in this run are synthetic phantoms, not patient data; numbers say nothing about clinical"
EVIL = "<script>alert(1)</script>"


def _png(path: Path, size: int, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L").save(path)


def _classification(cell: str, variant: str, i: int) -> list[dict]:
    rows = []
    for j, metric in enumerate(
        ["accuracy", "sensitivity", "specificity", "auroc", "log_loss", "brier", "ece"]
    ):
        est = 0.85 - 0.05 * i - 0.01 * j
        method = "wilson" if metric in ("accuracy", "sensitivity", "specificity") else "bootstrap"
        rows.append(
            {
                "cell": cell,
                "variant": variant,
                "metric": metric,
                "n": N_IMAGES,
                "estimate": est,
                "ci_low": est - 0.21,
                "ci_high": est + 0.098,
                "ci_method": method,
            }
        )
    return rows


def make_run(
    root: Path, synthetic: bool = True, sr_models: list[str] = SR_MODELS, lean: bool = False
) -> Path:
    """A small but complete run directory, as the pipeline would write it.

    A lean run has one cell and no per-image results or training histories, so rendering it draws a
    single figure: the behaviours those tests check do not need the rest, and figures are the slow part.
    """
    cells = CELLS[:1] if lean else CELLS
    rng = np.random.default_rng(7)
    run = root / "runs" / "demo" / "20240101-000000"
    run.mkdir(parents=True)
    variants = ["HR", "LR", *sr_models]
    (run / "config.yaml").write_text("suite: demo\ncells:\n  - scenario: bicubic\n    scale: 4\nseed: 1234\n")
    (run / "environment.json").write_text(
        json.dumps(
            {
                "python": "3.11.9",
                "seed": 1234,
                "device": "cpu",
                "git_commit": "abc123",
                "packages": {"numpy": "2.0"},
            }
        )
    )
    (run / "manifest.sha256").write_text(
        "".join(f"{i:064x}  images/img{i:03d}.png\n" for i in range(N_IMAGES))
    )

    ids = [f"img{i:03d}" for i in range(N_IMAGES)]
    labels = np.arange(N_IMAGES) % 2
    results, predictions, quality, classification, paired, flips, flipped, examples = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for cell in (c["cell"] for c in cells):
        for i, variant in enumerate(variants):
            probs = np.clip(labels * 0.6 + 0.2 + rng.normal(0, 0.15, N_IMAGES), 0.01, 0.99)
            predictions += [
                {"cell": cell, "variant": variant, "image_id": im, "label": int(lab), "prob": p}
                for im, lab, p in zip(ids, labels, probs, strict=True)
            ]
            classification += _classification(cell, variant, i)
            if variant == "HR":
                continue
            for metric, centre in [
                ("psnr", 28.0 + 2 * i),
                ("ssim", 0.7 + 0.05 * i),
                ("mse", 0.002),
                ("mae", 0.03),
            ]:
                values = centre * (1 + rng.normal(0, 0.05, N_IMAGES))
                results += [
                    {"cell": cell, "variant": variant, "image_id": im, "metric": metric, "value": v}
                    for im, v in zip(ids, values, strict=True)
                ]
                quality.append(
                    {
                        "cell": cell,
                        "variant": variant,
                        "metric": metric,
                        "n": N_IMAGES,
                        "mean": centre,
                        "std": 0.1,
                        "median": centre,
                        "ci_low": centre * 0.97,
                        "ci_high": centre * 1.03,
                        "ci_method": "bootstrap",
                    }
                )
            paired.append(
                {
                    "cell": cell,
                    "variant": variant,
                    "reference": "HR",
                    "test": "mcnemar",
                    "metric": "accuracy",
                    "estimate_variant": 0.8,
                    "estimate_reference": 0.85,
                    "difference": -0.05,
                    "ci_low": -0.2,
                    "ci_high": 0.1,
                    "statistic": 0.5,
                    "p_value": 0.48,
                    "p_adjusted": 0.96,
                    "n": N_IMAGES,
                    "note": None,
                }
            )
            paired.append(
                {
                    "cell": cell,
                    "variant": variant,
                    "reference": "HR",
                    "test": "delong",
                    "metric": "auroc",
                    "estimate_variant": 0.7,
                    "estimate_reference": 0.95,
                    "difference": -0.25,
                    "ci_low": -0.35,
                    "ci_high": -0.15,
                    "statistic": -4.4,
                    "p_value": 1.2e-5,
                    "p_adjusted": 3.6e-5,
                    "n": N_IMAGES,
                    "note": float("nan"),
                }
            )
            flips.append(
                {
                    "cell": cell,
                    "variant": variant,
                    "n": N_IMAGES,
                    "n_flips": 3,
                    "flip_rate": 0.15,
                    "normal_to_pneumonia": 2,
                    "pneumonia_to_normal": 1,
                    "correct_to_wrong": 2,
                    "wrong_to_correct": 1,
                }
            )
            flipped += [
                {
                    "cell": cell,
                    "variant": variant,
                    "image_id": ids[k],
                    "label": int(labels[k]),
                    "prob_hr": 0.3,
                    "prob_variant": 0.7,
                    "pred_hr": 0,
                    "pred_variant": 1,
                }
                for k in (1, 4, 9)
            ]
        images = {}
        for variant in variants:
            rel = (
                f"examples/{cell}/img000_{variant.replace('<', '_').replace('>', '_').replace('/', '_')}.png"
            )
            _png(run / rel, 8 if variant == "LR" else 32, rng)
            images[variant] = rel
        examples.append({"cell": cell, "image_id": ids[0], "label": 0, "images": images})

    pd.DataFrame(predictions).to_parquet(run / "predictions.parquet")
    (run / "examples" / "index.json").write_text(json.dumps(examples))
    summary = {
        "suite": "demo",
        "run_id": run.name,
        "created": "2024-01-01T00:00:00+00:00",
        "synthetic_data": synthetic,
        "data_note": "Demo phantoms generated from seed 1234." if synthetic else "Kermany test split.",
        "cells": cells,
        "variants": variants,
        "tables": {
            "quality": quality,
            "classification": classification,
            "paired_tests": paired,
            "flips": flips,
            "flipped_images": flipped,
        },
        "throughput": [
            {"cell": c["cell"], "variant": v, "images_per_s": 120.5, "device": "cpu"}
            for c in cells
            for v in sr_models
        ],
        "training": [],
        "classifier": {
            "source": "file",
            "path": "weights/clf.keras",
            "sha256": "f" * 64,
            "history_csv": None,
        },
    }
    if not lean:
        _add_results_and_histories(run, summary, results, sr_models)
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def _add_results_and_histories(run: Path, summary: dict, results: list[dict], sr_models: list[str]) -> None:
    pd.DataFrame(results).to_parquet(run / "results.parquet")
    history = pd.DataFrame(
        {
            "step": range(0, 200, 10),
            "stage": ["pretrain"] * 10 + ["gan"] * 10,
            "l_pix": np.linspace(0.1, 0.01, 20),
            "l_gan": [np.nan] * 10 + [0.7] * 10,
        }
    )
    for model in sr_models[1:]:
        (run / "training" / model).mkdir(parents=True)
        history.to_csv(run / "training" / model / "history.csv", index=False)
    (run / "classifier").mkdir()
    pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "loss": [0.7, 0.5, 0.4],
            "accuracy": [0.6, 0.75, 0.8],
            "val_loss": [0.72, 0.6, 0.55],
            "val_accuracy": [0.55, 0.7, 0.72],
        }
    ).to_csv(run / "classifier" / "history.csv", index=False)
    summary["training"] = [{"model": m, "history_csv": f"training/{m}/history.csv"} for m in sr_models[1:]]
    summary["classifier"] = {
        "source": "trained",
        "path": "classifier/model.keras",
        "sha256": "f" * 64,
        "history_csv": "classifier/history.csv",
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    run = make_run(tmp_path_factory.mktemp("report"))
    return run, render_report(run).read_text(encoding="utf-8")


def test_report_is_written_as_report_html_in_the_run_dir(rendered: tuple[Path, str]) -> None:
    run, _ = rendered
    assert [p.name for p in run.iterdir() if p.suffix == ".html"] == ["report.html"]
    assert not list(run.rglob("*.tmp")), "atomic write left a temp file behind"


def test_report_has_no_external_references(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    targets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    assert targets, "expected images and in-page links"
    assert all(t.startswith(("data:image/png;base64,", "#")) for t in targets), targets
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower() and "url(" not in html


def test_report_shows_stored_numbers_formatted(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    # HR accuracy of the fake run: 0.85 [0.64, 0.948]; AUROC p-value 1.2e-5 shows as <0.001.
    assert '0.850 <span class="ci">[0.640, 0.948]</span>' in html
    assert "&lt;0.001" in html
    assert "15.0%" in html  # stored flip_rate 0.15
    assert "python -m benchmark run --suite demo" in html
    assert "seed: 1234" in html and "abc123" in html  # config.yaml and environment.json verbatim
    assert f"{N_IMAGES} image checksums" in html


def test_report_groups_results_by_cell(rendered: tuple[Path, str]) -> None:
    _, html = rendered
    first, second = html.index("Cell bicubic-x4"), html.index("Cell blur-noise-x2")
    assert first < second
    assert "Scenario <b>blur_noise</b>" in html[second:]


def test_report_embeds_every_strip_image_as_its_png_bytes(rendered: tuple[Path, str]) -> None:
    run, html = rendered
    uris = set(re.findall(r'src="data:image/png;base64,([^"]+)"', html))
    for example in json.loads((run / "examples" / "index.json").read_text()):
        for relative in example["images"].values():
            assert base64.b64encode((run / relative).read_bytes()).decode() in uris
    assert html.count('class="pixelated"') == len(CELLS)  # the LR image of each strip


def test_report_embeds_figures_and_saves_them_for_papers(rendered: tuple[Path, str]) -> None:
    run, html = rendered
    saved = sorted((run / "figures").glob("*.png"))
    # Per cell: classification CIs with flips, IQ distributions; plus SR training and classifier curves.
    assert len(saved) == 2 * len(CELLS) + 2
    for path in saved:
        assert base64.b64encode(path.read_bytes()).decode() in html


@pytest.mark.parametrize("synthetic", [True, False])
def test_synthetic_banner_shown_only_for_synthetic_runs(tmp_path: Path, synthetic: bool) -> None:
    run = make_run(tmp_path, synthetic=synthetic, lean=True)
    html = render_report(run).read_text(encoding="utf-8")
    assert (BANNER in html) is synthetic


def test_malicious_variant_name_is_escaped(tmp_path: Path) -> None:
    run = make_run(tmp_path, sr_models=["bicubic", EVIL], lean=True)
    html = render_report(run).read_text(encoding="utf-8")
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


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
    assert "\\textless{}0.001" in paired and "0.960" in paired
    flips = (run / "tables" / "flips.tex").read_text()
    assert "15.0\\%" in flips and "$\\to$" in flips
    # The cell name is printed once per group of rows, with a rule between cells.
    assert classification.count("bicubic-x4") == 1 and classification.count("\\midrule") == len(CELLS)


@pytest.mark.parametrize(
    ("p", "text"),
    [
        (0.0004, "<0.001"),
        (1e-300, "<0.001"),
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
