"""Per-cell figures drawn from per-image predictions: ROC curves, reliability diagrams, PSNR vs change.

These draw the stored per-image values. Two of them need points that no table stores: ROC curves use
`sklearn.metrics.roc_curve` and reliability diagrams `sklearn.calibration.calibration_curve` on the
stored probabilities, purely to plot them; the legends quote the run's stored AUROC and ECE, which are
the numbers to cite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve

from cxr_kernel.variants import HR
from reports.figures import Color, style
from reports.formatting import fmt_num, is_missing, metric_label, ordered

RELIABILITY_BINS = 10
SCATTER_METRICS = ("psnr", "ssim")


def _stored(rows: Sequence[dict[str, Any]], variant: str, metric: str) -> str:
    """The stored estimate of `metric` for `variant` as text, or an empty string."""
    for r in rows:
        if r.get("variant") == variant and r.get("metric") == metric and not is_missing(r.get("estimate")):
            return fmt_num(r["estimate"], 3)
    return ""


def _two_class(predictions: pd.DataFrame, variants: Sequence[str]) -> list[tuple[str, pd.DataFrame]]:
    """(variant, its rows) for variants whose images include both classes (curves need both)."""
    out = []
    for variant in ordered(predictions["variant"], variants):
        rows = predictions[predictions["variant"] == variant]
        if rows["label"].nunique() == 2:
            out.append((variant, rows))
    return out


def roc_curves(
    predictions: pd.DataFrame,
    classification: Sequence[dict[str, Any]],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """ROC curve of every variant of one cell; the legend gives each stored AUROC."""
    curves = _two_class(predictions, variants)
    if not curves:
        return None
    with style():
        fig = Figure(figsize=(5.6, 4.6), layout="constrained")
        ax = fig.subplots()
        for variant, rows in curves:
            fpr, tpr, _ = roc_curve(rows["label"].to_numpy(int), rows["prob"].to_numpy(float))
            auroc = _stored(classification, variant, "auroc")
            label = f"{variant} (AUROC {auroc})" if auroc else variant
            dashed = "--" if variant == HR else "-"
            ax.plot(
                fpr,
                tpr,
                dashed,
                color=colors.get(variant, "0.3"),
                lw=1.4,
                label=label,
                drawstyle="steps-post",
            )
        ax.plot([0, 1], [0, 1], ":", color="0.6", lw=0.8)
        ax.set(xlabel="1 − specificity", ylabel="sensitivity", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01))
        ax.set_aspect("equal")
        ax.legend(fontsize=7.5, loc="lower right")
        ax.set_title("ROC curves")
        return fig


def reliability_diagrams(
    predictions: pd.DataFrame,
    classification: Sequence[dict[str, Any]],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """Observed pneumonia frequency per predicted-probability bin, one small panel per variant."""
    curves = _two_class(predictions, variants)
    if not curves:
        return None
    ncols = min(len(curves), 4)
    nrows = math.ceil(len(curves) / ncols)
    with style():
        fig = Figure(figsize=(2.6 * ncols + 0.4, 2.6 * nrows + 0.5), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
        for ax, (variant, rows) in zip(axes, curves, strict=False):
            probs = rows["prob"].to_numpy(float)
            observed, predicted = calibration_curve(
                rows["label"].to_numpy(int), probs, n_bins=RELIABILITY_BINS, strategy="uniform"
            )
            ax.plot([0, 1], [0, 1], ":", color="0.6", lw=0.8)
            ax.plot(predicted, observed, "o-", color=colors.get(variant, "0.3"), ms=3.5, lw=1.2)
            # Where the predictions lie: a rug, since empty bins draw no point.
            ax.plot(probs, np.full(probs.size, -0.03), "|", color="0.35", ms=5, alpha=0.5)
            ece = _stored(classification, variant, "ece")
            ax.set_title(f"{variant}" + (f" (ECE {ece})" if ece else ""), fontsize=9)
            ax.set(xlim=(0, 1), ylim=(-0.06, 1.02))
        for ax in axes[len(curves) :]:
            ax.set_visible(False)
        fig.supxlabel("predicted P(pneumonia), bin mean", fontsize=9)
        fig.supylabel("observed pneumonia fraction", fontsize=9)
        return fig


def quality_vs_change(
    results: pd.DataFrame,
    predictions: pd.DataFrame,
    flipped: Sequence[dict[str, Any]],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """Per image: PSNR (or SSIM) of each SR variant against the change of its P(pneumonia) from HR.

    Crosses mark images whose predicted class flipped, as listed in the stored flipped-images table.
    """
    metric = next((m for m in SCATTER_METRICS if m in set(results["metric"])), None)
    hr = predictions[predictions["variant"] == HR].set_index("image_id")["prob"]
    if metric is None or hr.empty:
        return None
    values = results[results["metric"] == metric].merge(
        predictions[["variant", "image_id", "prob"]], on=["variant", "image_id"]
    )
    values = values[np.isfinite(values["value"].astype(float))]
    if values.empty:
        return None
    values = values.assign(
        change=values["prob"].to_numpy(float) - hr.reindex(values["image_id"]).to_numpy(float)
    )
    flips = {(str(r.get("variant")), str(r.get("image_id"))) for r in flipped}
    with style():
        fig = Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = fig.subplots()
        for variant in ordered(values["variant"], variants):
            rows = values[values["variant"] == variant]
            hit = np.array([(variant, str(i)) in flips for i in rows["image_id"]], dtype=bool)
            color = colors.get(variant, "0.3")
            ax.scatter(rows["value"][~hit], rows["change"][~hit], s=12, color=color, alpha=0.6, label=variant)
            if hit.any():
                ax.scatter(
                    rows["value"][hit], rows["change"][hit], s=46, marker="X", color=color, edgecolor="k"
                )
        ax.axhline(0, color="0.5", lw=0.8, ls="--")
        ax.set(
            xlabel=f"{metric_label(metric)} against HR",
            ylabel="P(pneumonia) − P(pneumonia | HR)",
            title=f"{metric_label(metric)} vs diagnosis change (×: class flipped)",
        )
        ax.legend(fontsize=7.5, markerscale=1.2, loc="best")
        return fig
