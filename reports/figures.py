"""Report figures (seaborn on matplotlib's Agg canvas), the shared style and palette, and their files.

Figures only draw stored numbers: per-image values as box plots, stored estimates with their stored
CI bounds as error bars, stored counts as bars. Nothing is aggregated here, so seaborn's own
estimators and bootstrap intervals are never used.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from benchmark.stats.schema import at_fixed_threshold
from cxr_kernel.variants import HR, LR_BILINEAR, LR_NEAREST
from reports.formatting import is_missing, metric_label, ordered

DPI = 110  # embedded in the page
PAPER_DPI = 300  # figures/*.png beside figures/*.pdf
PAGE_COLORS = 64  # palette of the page's copy of a figure
Color = Any  # a matplotlib colour
IQ_PLOTTED = ("psnr", "ssim")
CLASSIFICATION_PLOTTED = ("accuracy", "auroc")
FLIP_COLORS = {"normal_to_pneumonia": "#d55e00", "pneumonia_to_normal": "#0072b2"}
X_COLUMNS = ("step", "epoch", "iteration", "iter")


@contextmanager
def style() -> Iterator[None]:
    # Context managers instead of sns.set_theme(): the caller's global matplotlib state stays untouched.
    # Names from the run are text, never mathtext: "$" in a model name must not be parsed (or fail).
    with (
        sns.axes_style("whitegrid"),
        sns.plotting_context("notebook", font_scale=0.85),
        rc_context({"text.parse_math": False}),
    ):
        yield


def encode(fig: Figure, fmt: str = "png", dpi: int = DPI) -> bytes:
    """Render on an explicit Agg canvas: no pyplot figure manager, GUI backend or global figure list.

    PDF metadata carries no creation date, so re-rendering the same run gives the same bytes.
    """
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    metadata = {"CreationDate": None} if fmt == "pdf" else None
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def downscale(png: bytes, factor: float) -> bytes:
    """A PNG resized by `factor` (Lanczos), for embedding a paper-resolution figure in the page.

    Stored with a 64-colour palette: figures are flat colours and text on white, so this keeps them
    sharp at about a third of the bytes of a true-colour PNG.
    """
    with Image.open(io.BytesIO(png)) as image:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        small = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.quantize(PAGE_COLORS, method=Image.Quantize.MEDIANCUT).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def variant_colors(variants: Sequence[str]) -> dict[str, Color]:
    """One colour per variant for every figure: HR dark grey, LR light grey, SR models colour-blind safe."""
    fixed = {HR: "0.25", LR_NEAREST: "0.65", LR_BILINEAR: "0.8"}
    models = [v for v in variants if v not in fixed]
    return {**fixed, **dict(zip(models, sns.color_palette("colorblind", len(models)), strict=True))}


def iq_distributions(
    results: pd.DataFrame, variants: Sequence[str], colors: dict[str, Color]
) -> Figure | None:
    """Per-image PSNR/SSIM (or the first two stored metrics) per variant: box plot plus every image.

    Parameters
    ----------
    results : DataFrame
        Long per-image rows of one cell: columns variant, metric, value.
    """
    frame = results[np.isfinite(results["value"].astype(float))]  # PSNR of identical images is inf
    if frame.empty:
        return None
    stored = ordered(frame["metric"], [])
    metrics = [m for m in IQ_PLOTTED if m in stored] or stored[:2]
    order = ordered(frame["variant"], variants)
    with style():
        fig = Figure(figsize=(4.2 * len(metrics) + 0.8, 0.45 * len(order) + 1.4), layout="constrained")
        axes = fig.subplots(1, len(metrics), squeeze=False, sharey=True)[0]
        # Fixed seed: the jitter is cosmetic, and a fixed one keeps the page byte-identical across renders.
        rng = np.random.default_rng(0)
        for ax, metric in zip(axes, metrics, strict=True):
            data = frame[frame["metric"] == metric]
            for i, variant in enumerate(order):
                values = data.loc[data["variant"] == variant, "value"].to_numpy(float)
                # Points under the boxes, fainter as they get many, so a 1000-image run stays readable.
                alpha = min(0.5, 4.0 / math.sqrt(max(values.size, 1)))
                y = i + rng.uniform(-0.2, 0.2, values.size)
                ax.scatter(values, y, s=6, color="0.2", alpha=alpha, linewidths=0, zorder=1)
            with warnings.catch_warnings():
                # seaborn 0.13 still passes `vert=` to matplotlib >= 3.11; nothing for us to change.
                warnings.filterwarnings("ignore", "vert: bool", category=MatplotlibDeprecationWarning)
                sns.boxplot(
                    data=data,
                    x="value",
                    y="variant",
                    order=order,
                    hue="variant",
                    hue_order=order,
                    palette=colors,
                    showfliers=False,
                    width=0.5,
                    legend=False,
                    ax=ax,
                    boxprops={"alpha": 0.8, "zorder": 2},
                )
            ax.set(title=f"{metric_label(metric)} per image", xlabel=metric_label(metric), ylabel="")
        return fig


def classification_and_flips(
    classification: Sequence[dict[str, Any]],
    flips: Sequence[dict[str, Any]],
    variants: Sequence[str],
    colors: dict[str, Color],
) -> Figure | None:
    """Accuracy and AUROC with their stored CIs, and stored flip counts, on one shared variant axis.

    Parameters
    ----------
    classification, flips : sequence of dict
        summary["tables"]["classification"] and ["flips"] rows of one cell.
    """
    clf = pd.DataFrame(at_fixed_threshold(list(classification))).reindex(
        columns=["variant", "metric", "estimate", "ci_low", "ci_high"]
    )
    flip = pd.DataFrame(list(flips)).reindex(columns=["variant", "n", "n_flips", *FLIP_COLORS])
    # Several records per variant (e.g. one per decision threshold): the first stored, as in the headline.
    clf = clf.drop_duplicates(["variant", "metric"])
    flip = flip.drop_duplicates(["variant"])
    stored = set(clf["metric"])
    metrics = [m for m in CLASSIFICATION_PLOTTED if m in stored]
    panels = len(metrics) + (not flip.empty)
    if not panels:
        return None
    order = ordered([*clf["variant"], *flip["variant"]], variants)
    with style():
        fig = Figure(figsize=(3.3 * panels + 0.8, 0.42 * len(order) + 1.5), layout="constrained")
        axes = fig.subplots(1, panels, squeeze=False, sharey=True)[0]
        for ax, metric in zip(axes, metrics, strict=False):  # the last axis may hold the flips
            _draw_intervals(ax, clf[clf["metric"] == metric].set_index("variant"), order, colors)
            ax.set(title=metric_label(metric), xlabel="estimate [CI]; dashed: HR")
        if not flip.empty:
            _draw_flips(axes[-1], flip.set_index("variant"), order)
        axes[0].set(yticks=range(len(order)), ylim=(len(order) - 0.5, -0.5))  # first variant on top
        axes[0].set_yticklabels(order)
        return fig


def error_lengths(est: float, low: float, high: float) -> list[list[float]]:
    """Matplotlib's [[below], [above]] error-bar lengths: distances to the stored bounds, 0 for a missing
    bound, never negative (a Wilson bound of an estimate of exactly 1 or 0 can miss it by rounding)."""
    return [
        [0.0 if math.isnan(low) else max(0.0, est - low)],
        [0.0 if math.isnan(high) else max(0.0, high - est)],
    ]


def _draw_intervals(ax: Any, rows: pd.DataFrame, order: list[str], colors: dict[str, Color]) -> None:
    for i, variant in enumerate(order):
        if variant not in rows.index or is_missing(rows.at[variant, "estimate"]):
            continue
        est, low, high = (float(rows.at[variant, k]) for k in ("estimate", "ci_low", "ci_high"))
        err = error_lengths(est, low, high)
        ax.errorbar(est, i, xerr=err, fmt="o", color=colors.get(variant, "0.3"), capsize=3, ms=5)
    if HR in rows.index and not is_missing(rows.at[HR, "estimate"]):
        ax.axvline(float(rows.at[HR, "estimate"]), color="0.5", ls="--", lw=0.9, zorder=0)


def _draw_flips(ax: Any, rows: pd.DataFrame, order: list[str]) -> None:
    """Stacked bars by flip direction, labelled `flips/n`; variants without flip records stay empty."""
    rows = rows.reindex(order)
    left = np.zeros(len(order))
    for key, color in FLIP_COLORS.items():
        counts = rows[key].astype(float).fillna(0.0).to_numpy()
        ax.barh(
            range(len(order)),
            counts,
            left=left,
            color=color,
            height=0.5,
            label=key.replace("_to_", " → ").replace("_", " "),
        )
        left += counts
    for i, (variant, flips, n) in enumerate(zip(order, rows["n_flips"], rows["n"], strict=True)):
        if variant == HR:
            ax.text(0, i, " reference", va="center", fontsize=8, color="0.45")
        elif not is_missing(flips):
            ax.text(left[i], i, f" {int(flips)}/{'?' if is_missing(n) else int(n)}", va="center", fontsize=8)
    ax.set_xlim(0, max(left.max(), 1.0) * 1.3)  # room for the count labels
    ax.set(title="Prediction flips vs HR", xlabel="images")
    # Legend below the whole figure, in one row, so it never covers a bar.
    ax.figure.legend(loc="outside lower right", ncol=2, fontsize=8, frameon=False)


def history_curves(history: pd.DataFrame, title: str) -> Figure | None:
    """Training curves from a history CSV: one panel per loss (train and `val_` lines together).

    Stage changes (column "stage", e.g. pretrain → gan) are marked with dashed vertical lines.
    """
    x_name = next((c for c in X_COLUMNS if c in history.columns), None)
    x = history[x_name].to_numpy(float) if x_name else np.arange(len(history), dtype=float)
    numeric = [c for c in history.columns if c != x_name and pd.api.types.is_numeric_dtype(history[c])]
    panels: dict[str, list[str]] = {}
    for column in numeric:
        panels.setdefault(column.removeprefix("val_"), []).append(column)
    if not panels:
        return None
    ncols = min(len(panels), 4)
    nrows = math.ceil(len(panels) / ncols)
    with style():
        fig = Figure(figsize=(3.4 * ncols, 2.6 * nrows + 0.4), layout="constrained")
        # Shared x keeps stage boundaries aligned across panels (val_ columns may start later).
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True).ravel()
        for ax, (name, columns) in zip(axes, panels.items(), strict=False):  # spare axes hidden below
            for column in columns:
                y = history[column].to_numpy(float)
                keep = np.isfinite(y)
                ax.plot(
                    x[keep],
                    y[keep],
                    marker="o" if keep.sum() <= 30 else None,
                    ms=3,
                    lw=1.2,
                    label="validation" if column.startswith("val_") else "train",
                )
            values = history[columns].to_numpy(float)
            values = values[np.isfinite(values)]
            # Losses spanning orders of magnitude are unreadable on a linear axis.
            if values.size and values.min() > 0 and values.max() / values.min() > 50:
                ax.set_yscale("log")
            if "stage" in history.columns:
                _mark_stages(ax, x, history["stage"])
            ax.set(title=name, xlabel=x_name or "row")
            if len(columns) > 1:
                ax.legend(fontsize=8)
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        fig.suptitle(title)
        return fig


def _mark_stages(ax: Any, x: np.ndarray, stage: pd.Series) -> None:
    starts = np.flatnonzero(stage.ne(stage.shift()).to_numpy())
    for i in starts:
        if i:
            ax.axvline(x[i], color="0.4", ls="--", lw=0.8)
        ax.text(
            x[i],
            0.98,
            f" {stage.iloc[i]}",
            transform=ax.get_xaxis_transform(),
            va="top",
            fontsize=7,
            color="0.3",
            clip_on=True,
        )
