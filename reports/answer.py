"""The answer at the top of the page: per cell, one line saying whether super-resolution changes the
diagnosis, and the differences to HR behind it (for the forest plot).

Every statement is read from the stored tables: the non-inferiority verdicts (`non_inferiority`, when
the suite set margins), else the primary paired tests against HR with their Holm-adjusted p, and the
flip counts. Nothing is computed beyond counting and picking stored values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cxr_kernel.run_summary import RunSummary
from cxr_kernel.variants import HR, is_lr
from reports.formatting import (
    CLASSIFICATION_METRICS,
    fmt_int,
    fmt_p,
    is_missing,
    metric_label,
    ordered,
    test_label,
)

REFERENCE = HR
NAMED = 3  # conclusions named in an answer line that do not hold across a panel; the rest counted
DIFFERENCE_COLUMNS = ["variant", "metric", "difference", "ci_low", "ci_high", "margin", "verdict", "p"]


@dataclass
class CellAnswer:
    """One cell's answer: its title, the sentences, and the differences to HR drawn beside them."""

    cell: str
    title: str
    text: str
    differences: pd.DataFrame  # DIFFERENCE_COLUMNS, one row per (variant, endpoint)


def sr_variants(variants: Sequence[str]) -> list[str]:
    """The super-resolved variants: neither HR nor an LR display."""
    return [v for v in variants if v != REFERENCE and not is_lr(v)]


def cell_title(cell: str, meta: dict[str, Any]) -> str:
    """`bicubic ×4`, with parameters when the cell has any; the cell's name without metadata."""
    if not meta.get("scenario") or not meta.get("scale"):
        return cell
    params = meta.get("params") or {}
    extra = f" ({', '.join(f'{k} {json.dumps(v)}' for k, v in params.items())})" if params else ""
    return f"{meta['scenario']} ×{meta['scale']}{extra}"


def _cell_agreement(section: dict[str, Any], cell: str) -> tuple[list[dict], str]:
    """A cell's conclusions compared across classifiers (its primary tests and non-inferiority verdicts)
    and how many of its flipped images flip with every member: `` (1 of 2 flipped diagnoses flip with
    every seed)``, or nothing without flips."""
    tables = section.get("tables") or {}
    member = "classifier" if "primary_classifier" in section else "seed"
    rows = [
        r
        for name in ("paired_tests", "non_inferiority")
        for r in tables.get(name) or []
        if r.get("cell") == cell
        and (name == "non_inferiority" or r.get("family") == "primary")
        and r.get(f"n_{member}s") != 0  # no member has a p-value or verdict: no conclusion
    ]
    images = [r for r in tables.get("flipped_images") or [] if r.get("cell") == cell]
    if not images:
        return rows, ""
    every = sum(bool(r.get("consistent")) for r in images)
    return rows, f" ({every} of {len(images)} flipped diagnoses flip with every {member})"


def seed_agreement_phrase(summary: RunSummary, cell: str) -> str:
    """How far the cell's answer holds across classifier training seeds (summary.json ``seeds``): its
    primary tests and non-inferiority verdicts reached by every seed or not, and its flipped images
    flipping with every seed or not."""
    seeds = summary.seeds
    if not seeds:
        return "" if summary.panel else "one classifier (seed variance not measured)"
    k = seeds["k"]
    rows, flips = _cell_agreement(seeds, cell)
    failing = sum(not r.get("holds") for r in rows)
    phrase = (
        f"consistent across {k} classifier seeds"
        if not failing
        else f"{failing} of {len(rows)} conclusions do not hold across {k} classifier seeds"
    )
    return phrase + flips


def panel_agreement_phrase(summary: RunSummary, cell: str) -> str:
    """How far the cell's answer holds across a panel of classifiers (summary.json ``panel``): for how
    many of the m classifiers each conclusion holds, naming those that hold for fewer than all."""
    panel = summary.panel
    if not panel:
        return ""
    m = panel["k"]
    rows, flips = _cell_agreement(panel, cell)
    failing = [r for r in rows if not r.get("holds")]
    if not failing:
        return f"each of its {len(rows)} conclusions holds for {m} of {m} classifiers{flips}"
    named = [
        f"{r.get('variant')} {_prose(str(r.get('metric')))}"
        + (" non-inferiority" if "primary_verdict" in r else f" ({test_label(str(r.get('test')))})")
        + f" holds for {r.get('n_agree')} of {m} classifiers"
        for r in failing
    ]
    more = f"; and {len(named) - NAMED} more" if len(named) > NAMED else ""
    return (
        f"{len(rows) - len(failing)} of {len(rows)} conclusions hold for {m} of {m} classifiers; "
        + "; ".join(named[:NAMED])
        + more
        + flips
    )


def differences_to_hr(tables: dict[str, Any], cell: str) -> pd.DataFrame:
    """Each variant's stored difference to HR [CI] per endpoint of one cell.

    From the non-inferiority table (with margin and verdict) when the run has one, else from the
    primary paired tests against HR (with their Holm-adjusted p, no margin).
    """
    margins = [r for r in tables.get("non_inferiority") or [] if r.get("cell") == cell]
    if margins:
        rows = [{**r, "p": None} for r in margins if r.get("reference", REFERENCE) == REFERENCE]
    else:
        paired = [
            r
            for r in tables.get("paired_tests") or []
            if r.get("cell") == cell and r.get("reference") == REFERENCE
        ]
        if any(r.get("family") == "primary" for r in paired):
            paired = [r for r in paired if r.get("family") == "primary"]
        rows = [
            {**r, "margin": None, "verdict": "", "p": r.get("p_adjusted", r.get("p_value"))} for r in paired
        ]
    frame = pd.DataFrame(rows).reindex(columns=DIFFERENCE_COLUMNS)
    return frame.drop_duplicates(["variant", "metric"]).dropna(subset=["variant", "metric"])


def _join(items: Sequence[str], last: str = "and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def _prose(metric: str) -> str:
    """A metric's label inside a sentence: `accuracy`, but `AUROC`."""
    label = metric_label(metric)
    return label if label[1:] != label[1:].lower() else label.lower()


def _margins(frame: pd.DataFrame, metrics: list[str]) -> str:
    """`margin 0.02` when every endpoint shares it, else `margins 0.02 for accuracy, ...; 0.01 for AUROC`."""
    by_value: dict[float, list[str]] = {}
    for m in metrics:
        margin = frame.loc[frame["metric"] == m, "margin"].dropna()
        if not margin.empty:
            by_value.setdefault(float(margin.iloc[0]), []).append(_prose(m))
    if len(by_value) == 1:
        return f"margin {next(iter(by_value)):g}"
    return "margins " + ", ".join(f"{v:g} for {_join(names)}" for v, names in by_value.items())


def _verdict_sentence(frame: pd.DataFrame, models: list[str]) -> str:
    """Which SR variants the stored verdicts call non-inferior (or inferior) to HR, per endpoint."""
    rows = frame[frame["variant"].isin(models)]
    metrics = ordered(rows["metric"], CLASSIFICATION_METRICS)
    if not metrics:
        return ""
    by_metric = {m: rows[rows["metric"] == m] for m in metrics}
    none = [_prose(m) for m in metrics if not (by_metric[m]["verdict"] == "non-inferior").any()]
    parts = [f"no SR variant is shown non-inferior to HR in {_join(none, 'or')}"] if none else []
    for verdict in ("non-inferior", "inferior"):
        endpoints: dict[tuple[str, ...], list[str]] = {}  # the same variants in several endpoints: one clause
        for m in metrics:
            named = tuple(by_metric[m].loc[by_metric[m]["verdict"] == verdict, "variant"])
            if named:
                endpoints.setdefault(named, []).append(_prose(m))
        for named, shown in endpoints.items():
            parts.append(f"{_join(named)} {'is' if len(named) == 1 else 'are'} {verdict} in {_join(shown)}")
    if (rows["verdict"] == "inconclusive").all():
        parts.append("every comparison is inconclusive")
    elif (rows["verdict"] == "inconclusive").any():
        parts.append("the other comparisons are inconclusive")
    parts[0] += f" ({_margins(rows, metrics)})"
    return "; ".join(parts)


def _test_sentence(frame: pd.DataFrame, models: list[str], alpha: float | None) -> str:
    """Without margins: which SR variants differ from HR at the stored Holm-adjusted p."""
    rows = frame[frame["variant"].isin(models)].dropna(subset=["p"])
    metrics = [_prose(m) for m in ordered(rows["metric"], CLASSIFICATION_METRICS)]
    if not metrics or alpha is None:
        return ""
    differ = rows[rows["p"].astype(float) < alpha]
    if differ.empty:
        return (
            f"no SR variant differs from HR in {_join(metrics, 'or')} (Holm-adjusted p ≥ {alpha:g}; "
            "no non-inferiority margins were set, so this does not show equivalence)"
        )
    listed = [f"{r.variant} in {_prose(r.metric)} (Holm p {fmt_p(r.p)})" for r in differ.itertuples()]
    return f"differences from HR: {_join(listed)}"


def _flip_sentence(flips: list[dict[str, Any]], models: list[str]) -> str:
    """How many diagnoses the SR variants change relative to HR, and in which direction."""
    rows = [r for r in flips if r.get("variant") in models and not is_missing(r.get("n_flips"))]
    if not rows:
        return ""
    counts = [int(r["n_flips"]) for r in rows]
    n = _join(ordered([fmt_int(r.get("n")) for r in rows], []), "or")
    most = max(rows, key=lambda r: int(r["n_flips"]))
    if not counts or max(counts) == 0:
        return f"no SR variant changes any of the {n} diagnoses"
    low, high = min(counts), max(counts)
    per = "per SR variant" if len(rows) > 1 else f"with {most['variant']}"
    if low != high:
        return f"{low} to {high} of {n} diagnoses change {per} ({most['variant']}: {high}{_direction(most)})"
    same = len({_direction(r) for r in rows}) == 1  # else the directions differ between variants
    return f"{high} of {n} diagnoses change {per}{_direction(most) if same else ''}"


def _direction(flips: dict[str, Any]) -> str:
    """`, all towards pneumonia` or `: 2 towards pneumonia, 1 towards normal`; empty when not stored."""
    to_pneumonia, to_normal = flips.get("normal_to_pneumonia"), flips.get("pneumonia_to_normal")
    if is_missing(to_pneumonia) or is_missing(to_normal):
        return ""
    if int(to_normal) == 0:
        return ", all towards pneumonia"
    if int(to_pneumonia) == 0:
        return ", all towards normal"
    return f": {int(to_pneumonia)} towards pneumonia, {int(to_normal)} towards normal"


def cell_answers(
    summary: RunSummary,
    cells: Sequence[str],
    cell_meta: dict[str, dict[str, Any]],
    variants: Sequence[str],
) -> list[CellAnswer]:
    """The answer line of every cell, in cell order."""
    tables = summary.tables
    models = sr_variants(variants)
    confidence = (summary.statistics or {}).get("confidence")
    alpha = None if is_missing(confidence) else 1 - float(confidence)
    answers = []
    for cell in cells:
        frame = differences_to_hr(tables, cell)
        has_margins = frame["margin"].notna().any()
        flips = [r for r in tables.get("flips") or [] if r.get("cell") == cell]
        sentences = [
            _verdict_sentence(frame, models) if has_margins else _test_sentence(frame, models, alpha),
            _flip_sentence(flips, models),
            panel_agreement_phrase(summary, cell),
            seed_agreement_phrase(summary, cell),
        ]
        text = "; ".join(s for s in sentences if s)  # follows the bold cell title and a colon
        title = cell_title(cell, cell_meta.get(cell, {}))
        answers.append(CellAnswer(cell, title, f"{text}.", frame))
    return answers
