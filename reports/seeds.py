"""The training-seed section (``summary["seeds"]``, written by ``benchmark.stats.seeds`` when a suite
trains ``classifier: {seeds: K}`` classifiers): display frames for the page and the paper tables.

Nothing is computed here: the counts and statements are the stored ones.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.formatting import fmt_num, metric_label, test_label


def conclusions_frame(section: dict[str, Any]) -> pd.DataFrame:
    """One row per primary test and non-inferiority verdict: the primary seed's conclusion, in how
    many seeds it is reached, and whether it holds across seeds."""
    tables = section.get("tables") or {}
    rows = [
        {
            "Cell": r["cell"],
            "Variant": f"{r['variant']} vs {r['reference']}",
            "Conclusion": f"{metric_label(r['metric'])}, {test_label(r['test'])}",
            "Primary seed": "significant" if r.get("primary_significant") else "not significant",
            "Across seeds": r["statement"],
            "Holds": "yes" if r["holds"] else "NO",
        }
        for r in tables.get("paired_tests") or []
        if r.get("family") == "primary"
    ]
    rows += [
        {
            "Cell": r["cell"],
            "Variant": f"{r['variant']} vs {r['reference']}",
            "Conclusion": f"{metric_label(r['metric'])}, non-inferiority",
            "Primary seed": r["primary_verdict"],
            "Across seeds": r["statement"],
            "Holds": "yes" if r["holds"] else "NO",
        }
        for r in tables.get("non_inferiority") or []
    ]
    return pd.DataFrame(rows)


def flips_frame(section: dict[str, Any]) -> pd.DataFrame:
    """Per cell and variant: flips per seed (mean, SD, range) and images flipping in any / every seed."""
    return pd.DataFrame(
        [
            {
                "Cell": r["cell"],
                "Variant": r["variant"],
                "Flips, mean (SD)": f"{fmt_num(r['mean'], 1)} ({fmt_num(r['sd'], 1)})",
                "Range": f"{fmt_num(r['min'], 0)}–{fmt_num(r['max'], 0)}",
                "Images flipping in some seed": r["n_images_flipped_any_seed"],
                "… in every seed": r["n_images_flipped_every_seed"],
            }
            for r in (section.get("tables") or {}).get("flips") or []
        ]
    )
