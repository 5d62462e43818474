"""Figures across cells: estimates with CIs per model and scale, metric vs scale, flip matrix, throughput.

Every number drawn is a stored estimate, CI bound, count or rate; nothing is aggregated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from reports.figures import CLASSIFICATION_PLOTTED, Color, error_lengths, style
from reports.formatting import CLASSIFICATION_METRICS, fmt_int, is_missing, metric_label, ordered


def _estimates(classification: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """First stored record per (cell, variant, metric): the headline setting when there are several."""
    frame = pd.DataFrame(list(classification)).reindex(
        columns=["cell", "variant", "metric", "estimate", "ci_low", "ci_high"]
    )
    return frame.drop_duplicates(["cell", "variant", "metric"]).dropna(subset=["estimate"])


def _errorbar(ax: Any, x: Any, row: pd.Series, color: Color, **kwargs: Any) -> None:
    est, low, high = (float(row[k]) for k in ("estimate", "ci_low", "ci_high"))
    err = error_lengths(est, low, high)
    ax.errorbar(x, est, yerr=err, color=color, capsize=2.5, ms=4.5, **kwargs)


def estimates_by_cell(
    classification: Sequence[dict[str, Any]],
    cells: Sequence[str],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """Accuracy and AUROC with stored CIs: cells (scenario × scale) on x, variants side by side."""
    frame = _estimates(classification)
    metrics = [m for m in CLASSIFICATION_PLOTTED if m in set(frame["metric"])]
    if not metrics:
        return None
    cell_order = ordered(frame["cell"], cells)
    order = ordered(frame["variant"], variants)
    width = 0.8 / max(len(order), 1)
    with style():
        fig = Figure(
            figsize=(max(5.0, 1.1 * len(cell_order) * len(metrics) + 2.5), 3.6), layout="constrained"
        )
        axes = fig.subplots(1, len(metrics), squeeze=False)[0]
        for ax, metric in zip(axes, metrics, strict=True):
            rows = frame[frame["metric"] == metric]
            for j, variant in enumerate(order):
                hits = rows[rows["variant"] == variant].set_index("cell")
                for n, cell in enumerate(c for c in cell_order if c in hits.index):
                    x = cell_order.index(cell) - 0.4 + width * (j + 0.5)
                    label = None if n else variant  # one legend entry per variant
                    _errorbar(ax, x, hits.loc[cell], colors.get(variant, "0.3"), fmt="o", label=label)
            ax.set_xticks(range(len(cell_order)), cell_order, rotation=20, ha="right")
            ax.set(title=f"{metric_label(metric)} [stored CI]", ylabel=metric_label(metric))
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
        return fig


def metric_vs_scale(
    classification: Sequence[dict[str, Any]],
    cell_meta: dict[str, dict[str, Any]],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """Accuracy and AUROC against the scale factor, one panel per scenario with at least two scales."""
    frame = _estimates(classification)
    frame = frame.assign(
        scenario=[cell_meta.get(c, {}).get("scenario") for c in frame["cell"]],
        scale=[cell_meta.get(c, {}).get("scale") for c in frame["cell"]],
    ).dropna(subset=["scenario", "scale"])
    scenarios = [
        s for s in ordered(frame["scenario"], []) if frame.loc[frame["scenario"] == s, "scale"].nunique() > 1
    ]
    metrics = [m for m in CLASSIFICATION_PLOTTED if m in set(frame["metric"])]
    if not scenarios or not metrics:
        return None
    order = ordered(frame["variant"], variants)
    with style():
        fig = Figure(figsize=(3.4 * len(scenarios) + 1.8, 2.8 * len(metrics) + 0.4), layout="constrained")
        axes = fig.subplots(len(metrics), len(scenarios), squeeze=False, sharex="col")
        for r, metric in enumerate(metrics):
            for c, scenario in enumerate(scenarios):
                ax = axes[r][c]
                rows = frame[(frame["metric"] == metric) & (frame["scenario"] == scenario)]
                for variant in order:
                    line = rows[rows["variant"] == variant].sort_values("scale")
                    if line.empty:
                        continue
                    color = colors.get(variant, "0.3")
                    scales = line["scale"].astype(float).to_numpy()
                    # A small offset per variant keeps overlapping CIs apart (log axis: a factor).
                    shifted = scales * 2 ** (0.04 * (order.index(variant) - len(order) / 2))
                    ax.plot(shifted, line["estimate"], "-", color=color, lw=1.0, alpha=0.7)
                    for x, (_, row) in zip(shifted, line.iterrows(), strict=True):
                        _errorbar(ax, x, row, color, fmt="o", label=variant if x == shifted[0] else None)
                ax.set_xscale("log", base=2)
                ticks = sorted(rows["scale"].astype(int).unique())
                ax.set_xticks(ticks, [f"×{t}" for t in ticks])
                ax.minorticks_off()
                ax.set(title=f"{scenario}", ylabel=metric_label(metric) if c == 0 else "")
        for ax in axes[-1]:
            ax.set_xlabel("scale factor")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
        return fig


def flip_matrix(
    flips: Sequence[dict[str, Any]], cells: Sequence[str], variants: Sequence[str]
) -> Figure | None:
    """Heat map of the stored flip rate, cells × variants, each square labelled `flips/n`."""
    frame = pd.DataFrame(list(flips)).reindex(columns=["cell", "variant", "n", "n_flips", "flip_rate"])
    frame = frame.drop_duplicates(["cell", "variant"]).dropna(subset=["cell", "variant"])
    if frame.empty:
        return None
    cell_order, order = ordered(frame["cell"], cells), ordered(frame["variant"], variants)
    rate = frame.pivot(index="cell", columns="variant", values="flip_rate").reindex(
        index=cell_order, columns=order
    )
    text = frame.assign(
        text=[f"{fmt_int(k)}/{fmt_int(n)}" for k, n in zip(frame["n_flips"], frame["n"], strict=True)]
    )
    text = text.pivot(index="cell", columns="variant", values="text").reindex(index=cell_order, columns=order)
    with style():
        fig = Figure(figsize=(1.0 * len(order) + 2.6, 0.55 * len(cell_order) + 1.6), layout="constrained")
        ax = fig.subplots()
        sns.heatmap(
            100.0 * rate.astype(float),
            annot=text.fillna("").to_numpy(),
            fmt="",
            cmap="Oranges",
            vmin=0,
            vmax=max(100.0 * float(np.nanmax(rate.to_numpy(float), initial=0.0)), 1.0),
            linewidths=0.5,
            cbar_kws={"label": "flip rate (%)"},
            ax=ax,
        )
        ax.set(xlabel="", ylabel="", title="Predicted class flipped vs HR (flips/n)")
        ax.tick_params(axis="x", rotation=30)
        return fig


def throughput_bars(
    throughput: Sequence[dict[str, Any]],
    cells: Sequence[str],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """Stored SR throughput (images/s) per model, one bar per cell, on a log axis."""
    frame = pd.DataFrame(list(throughput)).reindex(columns=["cell", "variant", "images_per_s", "device"])
    frame = frame.dropna(subset=["variant", "images_per_s"])
    frame = frame[frame["images_per_s"].astype(float) > 0]
    if frame.empty:
        return None
    order = ordered(frame["variant"], variants)
    cell_order = ordered(frame["cell"], cells)
    height = 0.8 / max(len(cell_order), 1)
    with style():
        fig = Figure(
            figsize=(6.4, 0.5 * len(order) * max(1, len(cell_order)) ** 0.5 + 1.4), layout="constrained"
        )
        ax = fig.subplots()
        shades = sns.light_palette("0.25", len(cell_order) + 1)[1:]
        for k, cell in enumerate(cell_order):
            rows = frame[frame["cell"] == cell].drop_duplicates("variant").set_index("variant")
            ys = [i - 0.4 + height * (k + 0.5) for i, v in enumerate(order) if v in rows.index]
            xs = [float(rows.at[v, "images_per_s"]) for v in order if v in rows.index]
            ax.barh(ys, xs, height=height * 0.9, color=shades[k], label=str(cell))
        ax.set_yticks(range(len(order)), order)
        for label in ax.get_yticklabels():
            label.set_color(colors.get(label.get_text(), "0.2"))
        ax.set_ylim(len(order) - 0.5, -0.5)
        ax.set_xscale("log")
        devices = ", ".join(str(d) for d in ordered(frame["device"], []) if not is_missing(d))
        ax.set(
            xlabel="images per second (log scale)",
            title=f"SR throughput{f' on {devices}' if devices else ''}",
        )
        if len(cell_order) > 1:
            ax.legend(fontsize=7.5, title="cell", title_fontsize=8)
        return fig


def forest_plot(
    differences: pd.DataFrame, variants: Sequence[str], colors: dict[str, Color]
) -> Figure | None:
    """Stored difference to HR [CI] of every variant, one small panel per endpoint; a dashed line at
    −margin where the run set one, a grey line at 0.

    Parameters
    ----------
    differences : DataFrame
        `reports.answer.differences_to_hr` of one cell: variant, metric, difference, ci_low, ci_high,
        margin, verdict.
    """
    frame = differences.dropna(subset=["difference"])
    if frame.empty:
        return None
    metrics = ordered(frame["metric"], CLASSIFICATION_METRICS)
    order = ordered(frame["variant"], variants)
    with style():
        fig = Figure(figsize=(1.15 * len(metrics) + 1.3, 0.19 * len(order) + 0.75), layout="constrained")
        axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)[0]
        for ax, metric in zip(axes, metrics, strict=True):
            rows = frame[frame["metric"] == metric].set_index("variant")
            for i, variant in enumerate(order):
                if variant not in rows.index:
                    continue
                row = rows.loc[variant]
                est, low, high = (float(row[k]) for k in ("difference", "ci_low", "ci_high"))
                err = error_lengths(est, low, high)
                filled = row.get("verdict") == "non-inferior"
                color = colors.get(variant, "0.3")
                ax.errorbar(
                    est, i, xerr=err, fmt="o", color=color, mfc=color if filled else "white", ms=4, capsize=2
                )
            ax.axvline(0.0, color="0.55", lw=0.8, zorder=0)
            margin = rows["margin"].dropna()
            if not margin.empty:
                ax.axvline(-float(margin.iloc[0]), color="#b91c1c", ls="--", lw=0.9, zorder=0)
            ax.set_title(f"Δ {metric_label(metric)}", fontsize=8.5)
            ax.tick_params(labelsize=7)
        axes[0].set(yticks=range(len(order)), ylim=(len(order) - 0.5, -0.5))
        axes[0].set_yticklabels(order, fontsize=7)
        return fig
