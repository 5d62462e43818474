"""A small but complete fake run directory for the report tests, as the pipeline would write it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cxr_kernel.run_summary import RunSummary

CELLS = [
    {"cell": "bicubic-x4", "scenario": "bicubic", "scale": 4, "params": {}},
    {"cell": "bicubic-noise-x2", "scenario": "bicubic-noise", "scale": 2, "params": {"sigma": 0.02}},
]
SR_MODELS = ["bicubic", "esrgan-tiny"]
N_IMAGES = 20
# A study the shape of `kermany-hr`: 200 images, 5 cells, 6 variants, 512-px examples with Grad-CAM maps.
STUDY_CELLS = [
    {"cell": f"{scenario}-x{scale}", "scenario": scenario, "scale": scale, "params": {}}
    for scenario, scale in [
        ("bicubic", 4),
        ("bicubic", 8),
        ("telemed", 4),
        ("realesrgan", 4),
        ("acquisition", 4),
    ]
]
STUDY_MODELS = ["bicubic", "lanczos", "srgan-leftthomas"]
STUDY_LR = ("LR-nearest", "LR-bilinear")
STUDY_IMAGES = 200
STUDY_MARGINS = {"accuracy": 0.02, "sensitivity": 0.02, "specificity": 0.02, "auroc": 0.01}
BANNER = "The images in this run are synthetic phantoms, not patient data; numbers say nothing about clinical"
EVIL = "<script>alert(1)</script>"
EMBEDDED = ("data:image/png;base64,", "data:image/webp;base64,")
RUN_FILE = re.compile(r"^(?![a-z][a-z0-9+.-]*:)(?![/\\])(?!.*\.\.)\S+$", re.IGNORECASE)  # relative, no ..


def as_summary(fields: dict) -> RunSummary:
    """A run record of ``fields`` (a part of summary.json; no tables unless given) for one report function."""
    return RunSummary.model_validate({"suite": "s", "run_id": "r", "tables": {}, **fields})


def _png(path: Path, size: int, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), mode="L").save(path)


def _radiograph(path: Path, size: int, rng: np.random.Generator) -> None:
    """A smooth grey image with fine noise: compresses like a radiograph, unlike uniform noise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    coarse = Image.fromarray(rng.integers(40, 220, (12, 12), dtype=np.uint8), mode="L")
    smooth = np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
    pixels = np.clip(smooth + rng.normal(0, 4, (size, size)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, mode="L").save(path)


def _classification(cell: str, variant: str, i: int, n_images: int = N_IMAGES) -> list[dict]:
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
                "n": n_images,
                "estimate": est,
                "ci_low": est - 0.21,
                "ci_high": est + 0.098,
                "ci_method": method,
            }
        )
    return rows


def make_run(
    root: Path,
    synthetic: bool = True,
    sr_models: list[str] = SR_MODELS,
    lean: bool = False,
    *,
    cells: list[dict] | None = None,
    n_images: int = N_IMAGES,
    lr: tuple[str, ...] = ("LR",),
    examples_per_cell: int = 1,
) -> Path:
    """A small but complete run directory, as the pipeline would write it.

    A lean run has one cell and no per-image results or training histories, so rendering it draws a
    single figure: the behaviours those tests check do not need the rest, and figures are the slow part.
    With ``examples_per_cell`` above 1 the examples are 512-px radiograph-like images with Grad-CAM maps,
    as a real run stores them (the default keeps tiny noise PNGs).
    """
    cells = cells or (CELLS[:1] if lean else CELLS)
    rng = np.random.default_rng(7)
    run = root / "runs" / "demo" / "20240101-000000"
    run.mkdir(parents=True)
    variants = ["HR", *lr, *sr_models]
    (run / "config.yaml").write_text("suite: demo\ncells:\n  - scenario: bicubic\n    scale: 4\nseed: 1234\n")
    (run / "environment.json").write_text(
        json.dumps(
            {
                "python": "3.11.9",
                "seed": 1234,
                "device": "cpu",
                "git_commit": "abc123",
                "started": "2023-12-31T23:47:30+00:00",
                "packages": {"numpy": "2.0"},
            }
        )
    )
    (run / "manifest.sha256").write_text(
        "".join(f"{i:064x}  images/img{i:03d}.png\n" for i in range(n_images))
    )

    ids = [f"img{i:03d}" for i in range(n_images)]
    labels = np.arange(n_images) % 2
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
            probs = np.clip(labels * 0.6 + 0.2 + rng.normal(0, 0.15, n_images), 0.01, 0.99)
            predictions += [
                {"cell": cell, "variant": variant, "image_id": im, "label": int(lab), "prob": p}
                for im, lab, p in zip(ids, labels, probs, strict=True)
            ]
            classification += _classification(cell, variant, i, n_images)
            if variant == "HR":
                continue
            for metric, centre in [
                ("psnr", 28.0 + 2 * i),
                ("ssim", 0.7 + 0.05 * i),
                ("mse", 0.002),
                ("mae", 0.03),
            ]:
                values = centre * (1 + rng.normal(0, 0.05, n_images))
                results += [
                    {"cell": cell, "variant": variant, "image_id": im, "metric": metric, "value": v}
                    for im, v in zip(ids, values, strict=True)
                ]
                quality.append(
                    {
                        "cell": cell,
                        "variant": variant,
                        "metric": metric,
                        "n": n_images,
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
                    "n": n_images,
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
                    "n": n_images,
                    "note": float("nan"),
                }
            )
            flips.append(
                {
                    "cell": cell,
                    "variant": variant,
                    "n": n_images,
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
        examples += _examples(run, cell, variants, ids[:examples_per_cell], rng)

    pd.DataFrame(predictions).to_parquet(run / "predictions.parquet")
    (run / "examples" / "index.json").write_text(json.dumps(examples))
    summary = {
        "suite": "demo",
        "run_id": run.name,
        "n_images": {"eval": n_images, "train": 10 * n_images},
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


def _examples(run: Path, cell: str, variants: list[str], ids: list[str], rng: np.random.Generator) -> list:
    """Stored example images of one cell: tiny noise PNGs for one example, else 512-px radiograph-like
    images (128 px for the low-resolution input) with 14x14 Grad-CAM maps."""
    examples = []
    for k, image_id in enumerate(ids):
        images, gradcam = {}, {}
        for variant in variants:
            safe = variant.replace("<", "_").replace(">", "_").replace("/", "_")
            rel = f"examples/{cell}/{image_id}_{safe}.png"
            if len(ids) == 1:
                _png(run / rel, 8 if variant == "LR" else 32, rng)
            else:
                _radiograph(run / rel, 128 if variant == "LR" else 512, rng)
                gradcam[variant] = f"examples/{cell}/{image_id}_{safe}__gradcam.png"
                _png(run / gradcam[variant], 14, rng)
            images[variant] = rel
        entry = {"cell": cell, "image_id": image_id, "label": k % 2, "images": images}
        examples.append({**entry, "gradcam": gradcam} if gradcam else entry)
    return examples


def make_study_run(root: Path) -> Path:
    """A 200-image, 5-cell, 6-variant study with non-inferiority margins, as `kermany-hr` stores it."""
    run = make_run(
        root,
        synthetic=False,
        sr_models=STUDY_MODELS,
        cells=STUDY_CELLS,
        n_images=STUDY_IMAGES,
        lr=STUDY_LR,
        examples_per_cell=4,
    )
    add_newer_columns(run)
    add_margins(run, STUDY_MARGINS)
    return run


def add_margins(run: Path, margins: dict[str, float]) -> None:
    """A non-inferiority table and the study design, as `stats: {margins: ...}` stores them.

    Each variant's differences to HR are its stored McNemar accuracy difference, shifted per endpoint so
    that the verdicts differ; the verdict follows the interval as `benchmark.stats.noninferiority` does.
    """
    path = run / "summary.json"
    summary = json.loads(path.read_text())
    tables = summary["tables"]
    paired = [r for r in tables["paired_tests"] if r["reference"] == "HR" and r["test"] == "mcnemar"]
    shifts = {"accuracy": 0.0, "sensitivity": 0.19, "specificity": -0.13, "auroc": 0.21}
    rows = []
    for r in paired:
        for metric, margin in margins.items():
            low, high = r["ci_low"] + shifts[metric], r["ci_high"] + shifts[metric]
            verdict = "non-inferior" if low > -margin else "inferior" if high < -margin else "inconclusive"
            rows.append(
                {
                    "cell": r["cell"],
                    "variant": r["variant"],
                    "reference": "HR",
                    "metric": metric,
                    "margin": margin,
                    "n": r["n"],
                    "difference": r["difference"] + shifts[metric],
                    "ci_low": low,
                    "ci_high": high,
                    "lower_bound": low,
                    "p_value": 0.3,
                    "verdict": verdict,
                    "p_equivalence": 0.4,
                    "equivalence": "not shown",
                    "method": "newcombe",
                    "note": "",
                }
            )
    tables["non_inferiority"] = rows
    for r in tables["paired_tests"]:
        r["family"] = "primary"
    summary["statistics"] = {
        "unit_of_analysis": "patient",
        "n_images": summary["n_images"]["eval"],
        "n_patients": summary["n_images"]["eval"] // 2,
        "primary_endpoints": list(margins),
        "margins": margins,
        "confidence": 0.95,
    }
    path.write_text(json.dumps(summary))


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


def add_newer_columns(run: Path) -> None:
    """What a newer analysis may store: thresholds, BH-adjusted p, discordant counts, harm CIs, a new table.

    Threshold-dependent metrics get a second record at an HR-Youden threshold of 0.42; AUROC keeps none.
    """
    path = run / "summary.json"
    summary = json.loads(path.read_text())
    tables = summary["tables"]
    rows = []
    for r in tables["classification"]:
        if r["metric"] in ("accuracy", "sensitivity", "specificity"):
            rows.append({**r, "threshold": "0.5", "threshold_value": 0.5})
            youden = {"threshold": "youden-hr", "threshold_value": 0.42, "estimate": r["estimate"] - 0.0123}
            rows.append({**r, **youden})
        else:  # as benchmark.stats stores threshold-free metrics
            rows.append({**r, "threshold": "", "threshold_value": None})
    tables["classification"] = rows
    for r in tables["paired_tests"]:
        r["p_adjusted_bh"] = 0.0271
        r["n_discordant"] = 7
    for r in tables["flips"]:
        r.update({"harmful_rate": 0.1, "harmful_ci_low": 0.03, "harmful_ci_high": 0.3})
        r.update({"flip_rate_ci_low": 0.05, "flip_rate_ci_high": 0.36})
    tables["confusion"] = [
        {"cell": c, "variant": "LR", "threshold": 0.5, "tp": 9, "fp": 2, "tn": 8, "fn": 1}
        for c in {r["cell"] for r in tables["flips"]}
    ]
    path.write_text(json.dumps(summary))


def add_hostile_example(run: Path, cell: str = "bicubic-x4") -> str:
    """An example image whose id and file names are markup, one of them stored, and a Grad-CAM map."""
    evil_id = f"{EVIL}.png"
    summary = json.loads((run / "summary.json").read_text())
    variants = summary["variants"]
    rng = np.random.default_rng(3)
    images = {}
    for variant in variants:
        relative = f"examples/{cell}/{EVIL}__{variant}.png"
        if variant != variants[-1]:  # the last one stays missing: its path is shown as text
            _png(run / relative, 8 if variant == "LR" else 32, rng)
        images[variant] = relative
    heat = f"examples/{cell}/{EVIL}__gradcam.png"
    _png(run / heat, 16, rng)
    index = json.loads((run / "examples" / "index.json").read_text())
    index.append({"cell": cell, "image_id": evil_id, "label": 1, "images": images, "gradcam": {"HR": heat}})
    (run / "examples" / "index.json").write_text(json.dumps(index))
    summary["tables"]["flipped_images"].append(
        {
            "cell": cell,
            "variant": variants[2],
            "image_id": evil_id,
            "label": 1,
            "prob_hr": 0.8,
            "prob_variant": 0.3,
            "pred_hr": 1,
            "pred_variant": 0,
        }
    )
    (run / "summary.json").write_text(json.dumps(summary))
    return evil_id


def assert_self_contained(html: str) -> None:
    """Images are data: URIs; links go within the page or to files of the run directory (the full-size
    example images), never elsewhere; one inline script (table sorting); nothing fetched."""
    sources = re.findall(r"""src\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    links = re.findall(r"""href\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    assert sources or links, "expected images or in-page links"
    assert all(s.startswith(EMBEDDED) for s in sources), [s[:40] for s in sources]
    assert all(t.startswith("#") or RUN_FILE.match(t) for t in links), links
    assert "http://" not in html and "https://" not in html
    assert re.findall(r"<script[^>]*>", html, flags=re.I) == ["<script>"]
    assert "<link" not in html.lower() and "url(" not in html and "@import" not in html
