"""The sections comparing classifiers (``benchmark.stats.agreement``): training seeds
(``summary["seeds"]``, ``classifier: {seeds: K}``) and a panel (``summary["panel"]``,
``classifiers: [...]``): display frames for the page and the paper tables.

Nothing is computed here: the counts and statements are the stored ones.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.formatting import fmt_int, fmt_num, metric_label, test_label


def noun(section: dict[str, Any]) -> str:
    """What the section's members are: ``classifier`` (a panel) or ``seed``."""
    return "classifier" if "primary_classifier" in section else "seed"


def members(section: dict[str, Any]) -> list[str]:
    """The members' labels (seeds or classifier names), the primary first."""
    return [str(m) for m in section.get(f"{noun(section)}s") or []]


def verdict(section: dict[str, Any]) -> dict[str, Any]:
    """The stored statement of a comparison: its size, members (primary first), primary member,
    whether the primary's conclusions hold across the members, and the headline sentence."""
    kind = noun(section)
    return {
        "k": section.get("k"),
        "members": members(section),
        "primary": section.get(f"primary_{kind}"),
        "holds": bool(section.get(f"holds_across_{kind}s")),
        "headline": section.get("headline") or "",
    }


def _panel_columns(section: dict[str, Any], row: dict[str, Any], stored: str, shown) -> dict[str, Any]:
    """A panel's per-classifier cells of one row (each member's ``<stored>classifier_<name>`` value as
    ``shown`` displays it); none for seeds, whose rows show the primary seed's conclusion."""
    if noun(section) != "classifier":
        return {}
    return {name: shown(row.get(f"{stored}classifier_{name}")) for name in members(section)}


def _significance(value: Any) -> str:
    return {True: "significant", False: "not significant"}.get(None if value is None else bool(value), "–")


def conclusions_frame(section: dict[str, Any]) -> pd.DataFrame:
    """One row per primary test and non-inferiority verdict: the primary member's conclusion (a
    panel: every classifier's), with how many members it is reached, and whether it holds across them."""
    tables, kind = section.get("tables") or {}, noun(section)
    count = f"n_{kind}s"

    def row(r: dict[str, Any], conclusion: str, primary: str, stored: str, shown) -> dict[str, Any]:
        panel = _panel_columns(section, r, stored, shown)
        return {
            "Cell": r["cell"],
            "Variant": f"{r['variant']} vs {r['reference']}",
            "Conclusion": conclusion,
            **(panel or {f"Primary {kind}": primary}),
            f"Across {kind}s": r["statement"],
            **({"Holds for": f"{fmt_int(r['n_agree'])} of {fmt_int(r[count])} {kind}s"} if panel else {}),
            "Holds": "yes" if r["holds"] else "NO",
        }

    rows = [
        row(
            r,
            f"{metric_label(r['metric'])}, {test_label(r['test'])}",
            _significance(r.get("primary_significant")),
            "significant_",
            _significance,
        )
        for r in tables.get("paired_tests") or []
        if r.get("family") == "primary"
    ]
    rows += [
        row(
            r,
            f"{metric_label(r['metric'])}, non-inferiority",
            r["primary_verdict"],
            "verdict_",
            lambda v: "–" if v is None else str(v),
        )
        for r in tables.get("non_inferiority") or []
    ]
    return pd.DataFrame(rows)


def flips_frame(section: dict[str, Any]) -> pd.DataFrame:
    """Per cell and variant: flips per member (a panel: each classifier's count; seeds: mean, SD, range)
    and images flipping with some / every member."""
    kind = noun(section)
    word = "in" if kind == "seed" else "with"
    rows = []
    for r in (section.get("tables") or {}).get("flips") or []:
        counts = {
            f"Flips, {name}": v for name, v in _panel_columns(section, r, "", lambda v: fmt_num(v, 0)).items()
        }
        rows.append(
            {
                "Cell": r["cell"],
                "Variant": r["variant"],
                **(
                    counts
                    or {
                        "Flips, mean (SD)": f"{fmt_num(r['mean'], 1)} ({fmt_num(r['sd'], 1)})",
                        "Range": f"{fmt_num(r['min'], 0)}–{fmt_num(r['max'], 0)}",
                    }
                ),
                f"Images flipping {word} some {kind}": r[f"n_images_flipped_any_{kind}"],
                f"… {word} every {kind}": r[f"n_images_flipped_every_{kind}"],
            }
        )
    return pd.DataFrame(rows)
