"""Training-seed variance: the same analysis repeated with K classifiers trained with different seeds.

``classifier: {seeds: K}`` trains K classifiers that differ only in their training seed (weight
initialisation, shuffling, augmentation and the patient-wise validation split); every one classifies
every variant of every cell, and ``analysis.analyze`` runs once per seed on its predictions.  The
primary analysis (``summary["tables"]``, the report's headline) is the first seed's, the suite's own
``seed``.  This module compares the K analyses:

- ``classification``: per (cell, variant, metric, threshold) each seed's estimate (``seed_<s>``), their
  mean, between-seed SD (ddof=1), min and max;
- ``paired_tests``: per test, each seed's adjusted p (Holm, within the test's family, ``p_adjusted_seed_
  <s>``), in how many seeds it is significant (adjusted p < 1 - confidence) and how many agree with the
  primary seed's conclusion; ``holds`` when all do;
- ``non_inferiority``: per (cell, variant, metric) each seed's verdict, how many seeds give each verdict
  and how many agree with the primary one;
- ``flips``: per (cell, variant) each seed's number of flips (against that seed's own HR prediction),
  their spread, and how many images flip in some seed and in every seed (consistent);
- ``flipped_images``: every image that flips in some seed, in how many seeds it flips and whether that
  is all of them.

The tests and verdicts are not pooled over seeds: each seed is analysed on its own and the share of
seeds agreeing is reported (a conclusion "holds across seeds" when every seed reaches it).  Hand-written
counting; ``tests/test_seeds.py`` recounts it by brute force from the stored per-seed predictions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from benchmark.stats.records import table_records

METHOD = (
    "each seed's classifier analysed on its own (the same tests, intervals and families as the primary "
    "analysis); a test is significant when its Holm-adjusted p is below 1 - confidence; conclusions are "
    "counted across seeds, not pooled"
)
TEST_KEYS = ["cell", "variant", "reference", "test", "metric", "threshold"]
VERDICTS = ("non-inferior", "inconclusive", "inferior")


def _stacked(tables: list[dict[str, pd.DataFrame]], seeds: list[int], name: str) -> pd.DataFrame:
    """One table of every seed's analysis, with a ``seed`` column."""
    return pd.concat(
        [t[name].assign(seed=seed) for t, seed in zip(tables, seeds, strict=True)], ignore_index=True
    )


def _per_seed(
    frame: pd.DataFrame, keys: list[str], value: str, seeds: list[int], prefix: str
) -> pd.DataFrame:
    """keys x seeds table of ``value`` (NaN where a seed lacks the row), columns ``<prefix><seed>``,
    rows in order of first appearance."""
    wide = frame.set_index([*keys, "seed"])[value].unstack("seed")
    order = pd.MultiIndex.from_frame(frame[keys].drop_duplicates())
    wide = wide.reindex(index=order, columns=seeds)
    wide.columns = [f"{prefix}{seed}" for seed in seeds]
    return wide


def classification_spread(frame: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Per (cell, variant, metric, threshold): each seed's estimate, mean, SD, min, max."""
    keys = ["cell", "variant", "metric", "threshold"]
    wide = _per_seed(frame, keys, "estimate", seeds, "seed_")
    values = wide.to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean/SD of a row without any finite value
        summary = pd.DataFrame(
            {
                "n_seeds": counts,
                "mean": np.nanmean(values, axis=1),
                "sd": np.where(counts > 1, np.nanstd(values, axis=1, ddof=1), np.nan),
                "min": np.nanmin(np.where(finite, values, np.inf), axis=1),
                "max": np.nanmax(np.where(finite, values, -np.inf), axis=1),
            },
            index=wide.index,
        )
    summary.loc[counts == 0, ["min", "max"]] = np.nan
    return pd.concat([summary, wide], axis=1).reset_index()


def _agreement(per_seed: pd.DataFrame, primary: str) -> pd.DataFrame:
    """n_seeds (defined), n_agree (equal to the primary seed's value) and share_agree of each row."""
    defined = per_seed.notna()
    agree = per_seed.eq(per_seed[primary], axis=0) & defined
    return pd.DataFrame(
        {
            "n_seeds": defined.sum(axis=1),
            "n_agree": agree.sum(axis=1),
        },
        index=per_seed.index,
    ).assign(share_agree=lambda t: t["n_agree"] / t["n_seeds"].where(t["n_seeds"] > 0))


def test_agreement(frame: pd.DataFrame, seeds: list[int], alpha: float) -> pd.DataFrame:
    """Per paired test of every seed's analysis: each seed's adjusted p, how many seeds find it
    significant and agree.  Tests only the primary analysis has (image quality between variants, the
    same for every classifier) are left out."""
    everywhere = frame.groupby(TEST_KEYS, sort=False)["seed"].transform("nunique") == len(seeds)
    frame = frame[everywhere.to_numpy()]
    frame = frame.assign(
        significant=np.where(frame["p_adjusted"].notna(), frame["p_adjusted"] < alpha, np.nan)
    )
    p_values = _per_seed(frame, TEST_KEYS, "p_adjusted", seeds, "p_adjusted_seed_")
    significant = _per_seed(frame, TEST_KEYS, "significant", seeds, "significant_seed_")
    differences = _per_seed(frame, TEST_KEYS, "difference", seeds, "difference_seed_")
    family = frame[frame["seed"] == seeds[0]].set_index(TEST_KEYS)["family"]
    agreement = _agreement(significant.astype("float64"), significant.columns[0])
    table = pd.DataFrame(
        {
            "family": family.reindex(significant.index),
            "primary_significant": significant.iloc[:, 0].map({1.0: True, 0.0: False}),
            "n_significant": (significant.astype("float64") == 1).sum(axis=1),
        },
        index=significant.index,
    ).join(agreement)
    table["share_significant"] = table["n_significant"] / table["n_seeds"].where(table["n_seeds"] > 0)
    table["holds"] = (table["n_seeds"] > 0) & (table["n_agree"] == table["n_seeds"])
    table["statement"] = [
        f"significant in {s} of {n} seeds"
        for s, n in zip(table["n_significant"], table["n_seeds"], strict=True)
    ]
    return pd.concat([table, p_values, differences], axis=1).reset_index()


def _count(verdict: str) -> str:
    """Column counting the seeds with ``verdict``: n_non_inferior, n_inconclusive, n_inferior."""
    return "n_" + verdict.replace("-", "_")


def verdict_agreement(frame: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Per non-inferiority row: each seed's verdict, the count of each verdict, agreement."""
    keys = ["cell", "variant", "reference", "metric"]
    verdicts = _per_seed(frame, keys, "verdict", seeds, "verdict_seed_")
    table = pd.DataFrame(
        {"primary_verdict": verdicts.iloc[:, 0]} | {_count(v): (verdicts == v).sum(axis=1) for v in VERDICTS},
        index=verdicts.index,
    ).join(_agreement(verdicts, verdicts.columns[0]))
    table["holds"] = (table["n_seeds"] > 0) & (table["n_agree"] == table["n_seeds"])
    table["statement"] = [
        ", ".join(f"{v} in {row[_count(v)]} of {row['n_seeds']} seeds" for v in VERDICTS if row[_count(v)])
        for _, row in table.iterrows()
    ]
    return pd.concat([table, verdicts], axis=1).reset_index()


def flipped_image_counts(frame: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Every (cell, variant, image) flipping in some seed: in how many seeds, and whether in all."""
    keys = ["cell", "variant", "image_id"]
    flipped = _per_seed(frame.assign(flipped=True), keys, "flipped", seeds, "flipped_seed_")
    flipped = flipped.eq(True)  # NaN: not flipped in that seed
    labels = frame.groupby(keys, sort=False)["label"].first()
    table = pd.DataFrame(
        {
            "label": labels.reindex(flipped.index),
            "n_seeds_flipped": flipped.sum(axis=1).astype(int),
            "n_seeds": len(seeds),
            "flips_in_primary": flipped.iloc[:, 0],
        },
        index=flipped.index,
    )
    table["consistent"] = table["n_seeds_flipped"] == len(seeds)
    return pd.concat([table, flipped], axis=1).reset_index()


def flipped_image_counts_empty() -> pd.DataFrame:
    """``flipped_image_counts`` of no flipped image."""
    return pd.DataFrame(columns=["cell", "variant", "image_id", "consistent"])


def flip_spread(flips: pd.DataFrame, images: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Per (cell, variant): each seed's flip count, their spread, images flipping in any and every seed."""
    keys = ["cell", "variant"]
    spread = classification_spread(
        flips.assign(metric="n_flips", threshold=flips["threshold"], estimate=flips["n_flips"].astype(float)),
        seeds,
    ).drop(columns=["metric"])
    grouped = images.groupby(keys, sort=False)
    counts = pd.DataFrame(
        {
            "n_images_flipped_any_seed": grouped.size(),
            "n_images_flipped_every_seed": grouped["consistent"].sum(),
        }
    )
    spread = spread.merge(counts.reset_index(), on=keys, how="left")
    filled = ["n_images_flipped_any_seed", "n_images_flipped_every_seed"]
    spread[filled] = spread[filled].fillna(0).astype(int)
    return spread


def headline(tests: pd.DataFrame, verdicts: pd.DataFrame, k: int) -> tuple[bool, list[str], str]:
    """(whether every primary test and non-inferiority verdict holds across seeds, the statements of
    those that do not, one sentence for the report's headline)."""
    primary = tests[tests["family"] == "primary"] if len(tests) else tests
    failing = [
        f"{r.cell}: {r.variant} vs {r.reference}, {r.metric} ({r.test}): {r.statement} "
        f"(primary seed: {'significant' if r.primary_significant else 'not significant'})"
        for r in primary.itertuples()
        if not r.holds
    ]
    failing += [
        f"{r.cell}: {r.variant} vs {r.reference}, {r.metric}: {r.statement} "
        f"(primary seed: {r.primary_verdict})"
        for r in verdicts.itertuples()
        if not r.holds
    ]
    conclusions = len(primary) + len(verdicts)
    if not failing:
        sentence = (
            f"Every primary test{' and non-inferiority verdict' if len(verdicts) else ''} reaches the same "
            f"conclusion with each of the {k} training seeds."
        )
    else:
        sentence = (
            f"{len(failing)} of {conclusions} primary conclusions do not hold across the {k} training seeds "
            f"(the classifier retrained with another seed reaches another conclusion): {failing[0]}"
            + (f"; and {len(failing) - 1} more." if len(failing) > 1 else ".")
        )
    return not failing, failing, sentence


def seed_summary(
    seeds: list[int],
    tables: list[dict[str, pd.DataFrame]],
    *,
    confidence: float,
    classifiers: list[dict],
) -> dict:
    """The ``seeds`` section of summary.json from each seed's ``analyze`` tables (``tables[i]`` for
    ``seeds[i]``; the first is the primary analysis)."""
    alpha = round(1 - confidence, 12)  # 0.05, not 0.050000000000000044

    def compared(name: str, compare, *args) -> pd.DataFrame:
        stacked = _stacked(tables, seeds, name)
        return pd.DataFrame() if stacked.empty else compare(stacked, *args)

    images = compared("flipped_images", flipped_image_counts, seeds)
    results = {
        "classification": compared("classification", classification_spread, seeds),
        "paired_tests": compared("paired_tests", test_agreement, seeds, alpha),
        "non_inferiority": compared("non_inferiority", verdict_agreement, seeds),
        "flips": compared(
            "flips", flip_spread, images if len(images) else flipped_image_counts_empty(), seeds
        ),
        "flipped_images": images,
    }
    holds, failing, sentence = headline(results["paired_tests"], results["non_inferiority"], len(seeds))
    return {
        "k": len(seeds),
        "seeds": list(seeds),
        "primary_seed": seeds[0],
        "method": METHOD,
        "alpha": alpha,
        "classifiers": classifiers,
        "holds_across_seeds": holds,
        "not_holding": failing,
        "headline": sentence,
        "tables": {name: table_records(frame) for name, frame in results.items()},
    }
