"""The leakage section: the headline estimates on all test images beside those on the images that share
no patient (and no near-duplicate) with the classifier's training images (``summary["leakage"]``,
written by ``benchmark.pipeline.run_leakage``). Nothing is computed here: both sets of estimates are
stored."""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxr_kernel.run_summary import RunSummary
from reports.formatting import fmt_ci, metric_label

DECIMALS = 3


def _estimates(rows: list[dict[str, Any]], endpoints: list[str]) -> dict[tuple, str]:
    """(cell, variant, metric) -> `0.912 [0.881, 0.936]` for the endpoints at the fixed threshold."""
    return {
        (r["cell"], r["variant"], r["metric"]): fmt_ci(r["estimate"], r["ci_low"], r["ci_high"], DECIMALS)
        for r in rows
        if r.get("metric") in endpoints and r.get("threshold") != "youden-hr"
    }


def sensitivity_frame(summary: RunSummary) -> pd.DataFrame:
    """One row per cell and variant: each endpoint on all images, then without the overlapping ones."""
    sensitivity = (summary.leakage or {}).get("sensitivity") or {}
    endpoints = list(sensitivity.get("endpoints") or [])
    subset = _estimates(sensitivity.get("classification") or [], endpoints)
    if not subset:
        return pd.DataFrame()
    full = _estimates(summary.rows("classification"), endpoints)
    n_all = summary.n_eval
    rows = []
    for cell, variant in dict.fromkeys((cell, variant) for cell, variant, _ in subset):
        row = {"Cell": cell, "Variant": variant}
        for metric in endpoints:
            row[f"{metric_label(metric)}, all {n_all}"] = full.get((cell, variant, metric), "")
            row[f"{metric_label(metric)}, {sensitivity['n_images']} without"] = subset.get(
                (cell, variant, metric), ""
            )
        rows.append(row)
    return pd.DataFrame(rows)


def sensitivity_text(summary: RunSummary) -> str:
    """`Without the 106 test images of the 170 shared patients (and near-duplicates): 512 images.`"""
    leakage = summary.leakage or {}
    sensitivity = leakage.get("sensitivity") or {}
    if not sensitivity:
        return ""
    text = (
        f"Estimates again without the {sensitivity.get('left_out_images')} test images of the "
        f"{len(leakage.get('patients') or [])} patients shared with the classifier's training images and "
        f"of the {len(leakage.get('near_duplicates') or [])} near-duplicates: "
        f"{sensitivity.get('n_images')} images, same methods (summary.json `leakage.sensitivity`)."
    )
    if sensitivity.get("n_pneumonia") is not None:
        text += (
            f" {sensitivity['n_pneumonia']} of them pneumonia: accuracy also moves with that class mix; "
            "sensitivity, specificity and AUROC do not depend on it."
        )
    return text + (f" {sensitivity['note']}." if sensitivity.get("note") else "")
