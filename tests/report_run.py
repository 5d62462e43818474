"""A small but complete fake run directory for the report tests, as the pipeline would write it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

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
                "started": "2023-12-31T23:47:30+00:00",
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
    """Only data: images and in-page links; one inline script (table sorting); nothing fetched."""
    targets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    assert targets, "expected images and in-page links"
    assert all(t.startswith(("data:image/png;base64,", "#")) for t in targets), targets
    assert "http://" not in html and "https://" not in html
    assert re.findall(r"<script[^>]*>", html, flags=re.I) == ["<script>"]
    assert "<link" not in html.lower() and "url(" not in html and "@import" not in html
