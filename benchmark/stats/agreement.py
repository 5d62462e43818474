"""Whether conclusions hold across classifiers: the same analysis repeated with each classifier.

Two uses compare K analyses of the same variants, each ``analysis.analyze`` run on one classifier's
predictions, the first the primary analysis (``summary["tables"]``, the report's headline):

- training seeds (``classifier: {seeds: K}``): K classifiers that differ only in their training seed
  (weight initialisation, shuffling, augmentation and the patient-wise validation split), summary.json
  ``seeds``, columns ``seed_<s>``;
- a panel (``classifiers: [...]``): different classifiers (architectures, files), summary.json
  ``panel``, columns ``classifier_<name>``.

Below, "member" is a seed or a panel classifier and ``<noun>`` is ``seed`` or ``classifier``:

- ``classification``: per (cell, variant, metric, threshold) each member's estimate (``<noun>_<m>``),
  their mean, between-member SD (ddof=1), min and max;
- ``paired_tests``: per test, each member's adjusted p (Holm, within the test's family,
  ``p_adjusted_<noun>_<m>``) and whether it is significant (adjusted p < 1 - confidence,
  ``significant_<noun>_<m>``), in how many members it is and how many agree with the primary member's
  conclusion; ``holds`` when all do (also when no member has a p-value: nothing disagrees; such
  a test is not counted in the headline);
- ``non_inferiority``: per (cell, variant, metric) each member's verdict, how many members give each
  verdict and how many agree with the primary one;
- ``flips``: per (cell, variant) each member's number of flips (against that member's own HR
  prediction), their spread, and how many images flip with some member and with every member
  (consistent);
- ``flipped_images``: every image that flips with some member, with how many members it flips and
  whether that is all of them.

The tests and verdicts are not pooled over members: each is analysed on its own and the share of
members agreeing is reported (a conclusion "holds" when every member reaches it).  Hand-written
counting; ``tests/stats/test_stats_seeds.py`` recounts it by brute force from the per-member predictions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmark.stats.records import table_records

TEST_KEYS = ["cell", "variant", "reference", "test", "metric", "threshold"]
VERDICTS = ("non-inferior", "inconclusive", "inferior")


#: How text names each kind of member: (what is analysed per member, "the {k} ..." , why a conclusion
#: can differ between members).
WORDING = {
    "seed": (
        "seed's classifier",
        "training seeds",
        "the classifier retrained with another seed reaches another conclusion",
    ),
    "classifier": ("classifier", "classifiers", "another classifier reaches another conclusion"),
}


@dataclass(frozen=True)
class Members:
    """The analyses compared: each member's label (``labels[0]`` the primary) and what they are
    (``noun``, a key of ``WORDING``: column names and statements)."""

    labels: list
    noun: str

    @property
    def k(self) -> int:
        return len(self.labels)

    @property
    def plural(self) -> str:
        return f"{self.noun}s"

    @property
    def across(self) -> str:
        return WORDING[self.noun][1]

    @property
    def reason(self) -> str:
        return WORDING[self.noun][2]

    def column(self, prefix: str = "") -> str:
        """Prefix of the per-member columns: ``seed_`` or ``p_adjusted_classifier_``."""
        return f"{prefix}{self.noun}_"

    @property
    def count(self) -> str:
        """The column counting defined members: ``n_seeds`` or ``n_classifiers``."""
        return f"n_{self.plural}"

    def method(self) -> str:
        return (
            f"each {WORDING[self.noun][0]} analysed on its own (the same tests, intervals and families as "
            "the primary analysis); a test is significant when its Holm-adjusted p is below 1 - confidence; "
            f"conclusions are counted across {self.plural}, not pooled"
        )


def training_seeds(seeds: list[int]) -> Members:
    """The members of ``classifier: {seeds: K}``: one classifier per training seed."""
    return Members(list(seeds), "seed")


def classifier_panel(names: list[str]) -> Members:
    """The members of ``classifiers: [...]``: each panel classifier (its primary training seed)."""
    return Members(list(names), "classifier")


def _stacked(tables: list[dict[str, pd.DataFrame]], members: Members, name: str) -> pd.DataFrame:
    """One table of every member's analysis, with a ``member`` column."""
    return pd.concat(
        [t[name].assign(member=label) for t, label in zip(tables, members.labels, strict=True)],
        ignore_index=True,
    )


def _per_member(
    frame: pd.DataFrame, keys: list[str], value: str, members: Members, prefix: str
) -> pd.DataFrame:
    """keys x members table of ``value`` (NaN where a member lacks the row), columns ``<prefix><label>``,
    rows in order of first appearance."""
    wide = frame.set_index([*keys, "member"])[value].unstack("member")
    order = pd.MultiIndex.from_frame(frame[keys].drop_duplicates())
    wide = wide.reindex(index=order, columns=members.labels)
    wide.columns = [f"{prefix}{label}" for label in members.labels]
    return wide


def classification_spread(frame: pd.DataFrame, members: Members) -> pd.DataFrame:
    """Per (cell, variant, metric, threshold): each member's estimate, mean, SD, min, max."""
    keys = ["cell", "variant", "metric", "threshold"]
    wide = _per_member(frame, keys, "estimate", members, members.column())
    values = wide.to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mean/SD of a row without any finite value
        summary = pd.DataFrame(
            {
                members.count: counts,
                "mean": np.nanmean(values, axis=1),
                "sd": np.where(counts > 1, np.nanstd(values, axis=1, ddof=1), np.nan),
                "min": np.nanmin(np.where(finite, values, np.inf), axis=1),
                "max": np.nanmax(np.where(finite, values, -np.inf), axis=1),
            },
            index=wide.index,
        )
    summary.loc[counts == 0, ["min", "max"]] = np.nan
    return pd.concat([summary, wide], axis=1).reset_index()


def _agreement(per_member: pd.DataFrame, primary: str, members: Members) -> pd.DataFrame:
    """n_<noun>s (defined), n_agree (equal to the primary member's value) and share_agree of each row."""
    defined = per_member.notna()
    agree = per_member.eq(per_member[primary], axis=0) & defined
    count = members.count
    return pd.DataFrame(
        {count: defined.sum(axis=1), "n_agree": agree.sum(axis=1)}, index=per_member.index
    ).assign(share_agree=lambda t: t["n_agree"] / t[count].where(t[count] > 0))


def test_agreement(frame: pd.DataFrame, members: Members, alpha: float) -> pd.DataFrame:
    """Per paired test of every member's analysis: each member's adjusted p, how many members find it
    significant and agree.  Tests only the primary analysis has (image quality between variants, the
    same for every classifier) are left out."""
    everywhere = frame.groupby(TEST_KEYS, sort=False)["member"].transform("nunique") == members.k
    frame = frame[everywhere.to_numpy()]
    frame = frame.assign(
        significant=np.where(frame["p_adjusted"].notna(), frame["p_adjusted"] < alpha, np.nan)
    )
    p_values = _per_member(frame, TEST_KEYS, "p_adjusted", members, members.column("p_adjusted_"))
    significant = _per_member(frame, TEST_KEYS, "significant", members, members.column("significant_"))
    differences = _per_member(frame, TEST_KEYS, "difference", members, members.column("difference_"))
    family = frame[frame["member"] == members.labels[0]].set_index(TEST_KEYS)["family"]
    agreement = _agreement(significant.astype("float64"), significant.columns[0], members)
    count = members.count
    table = pd.DataFrame(
        {
            "family": family.reindex(significant.index),
            "primary_significant": significant.iloc[:, 0].map({1.0: True, 0.0: False}),
            "n_significant": (significant.astype("float64") == 1).sum(axis=1),
        },
        index=significant.index,
    ).join(agreement)
    table["share_significant"] = table["n_significant"] / table[count].where(table[count] > 0)
    table["holds"] = table["n_agree"] == table[count]
    table["statement"] = [
        f"significant in {s} of {n} {members.plural}" if n else f"no p-value with any {members.noun}"
        for s, n in zip(table["n_significant"], table[count], strict=True)
    ]
    calls = significant.apply(lambda column: column.map({1.0: True, 0.0: False}))  # NaN: no p
    return pd.concat([table, p_values, calls, differences], axis=1).reset_index()


def _count(verdict: str) -> str:
    """Column counting the members with ``verdict``: n_non_inferior, n_inconclusive, n_inferior."""
    return "n_" + verdict.replace("-", "_")


def verdict_agreement(frame: pd.DataFrame, members: Members) -> pd.DataFrame:
    """Per non-inferiority row: each member's verdict, the count of each verdict, agreement."""
    keys = ["cell", "variant", "reference", "metric"]
    verdicts = _per_member(frame, keys, "verdict", members, members.column("verdict_"))
    table = pd.DataFrame(
        {"primary_verdict": verdicts.iloc[:, 0]} | {_count(v): (verdicts == v).sum(axis=1) for v in VERDICTS},
        index=verdicts.index,
    ).join(_agreement(verdicts, verdicts.columns[0], members))
    count = members.count
    table["holds"] = table["n_agree"] == table[count]
    table["statement"] = [
        f"no verdict with any {members.noun}"
        if not row[count]
        else ", ".join(
            f"{v} in {row[_count(v)]} of {row[count]} {members.plural}" for v in VERDICTS if row[_count(v)]
        )
        for _, row in table.iterrows()
    ]
    return pd.concat([table, verdicts], axis=1).reset_index()


def flipped_image_counts(frame: pd.DataFrame, members: Members) -> pd.DataFrame:
    """Every (cell, variant, image) flipping with some member: with how many, and whether with all."""
    keys = ["cell", "variant", "image_id"]
    flipped = _per_member(frame.assign(flipped=True), keys, "flipped", members, members.column("flipped_"))
    flipped = flipped.eq(True)  # NaN: not flipped with that member
    labels = frame.groupby(keys, sort=False)["label"].first()
    table = pd.DataFrame(
        {
            "label": labels.reindex(flipped.index),
            f"{members.count}_flipped": flipped.sum(axis=1).astype(int),
            members.count: members.k,
            "flips_in_primary": flipped.iloc[:, 0],
        },
        index=flipped.index,
    )
    table["consistent"] = table[f"{members.count}_flipped"] == members.k
    return pd.concat([table, flipped], axis=1).reset_index()


def flipped_image_counts_empty() -> pd.DataFrame:
    """``flipped_image_counts`` of no flipped image."""
    return pd.DataFrame(columns=["cell", "variant", "image_id", "consistent"])


def flip_spread(flips: pd.DataFrame, images: pd.DataFrame, members: Members) -> pd.DataFrame:
    """Per (cell, variant): each member's flip count, their spread, images flipping with any and every
    member (``n_images_flipped_any_<noun>``, ``n_images_flipped_every_<noun>``)."""
    keys = ["cell", "variant"]
    spread = classification_spread(
        flips.assign(metric="n_flips", threshold=flips["threshold"], estimate=flips["n_flips"].astype(float)),
        members,
    ).drop(columns=["metric"])
    grouped = images.groupby(keys, sort=False)
    filled = [f"n_images_flipped_any_{members.noun}", f"n_images_flipped_every_{members.noun}"]
    counts = pd.DataFrame({filled[0]: grouped.size(), filled[1]: grouped["consistent"].sum()})
    spread = spread.merge(counts.reset_index(), on=keys, how="left")
    spread[filled] = spread[filled].fillna(0).astype(int)
    return spread


def headline(tests: pd.DataFrame, verdicts: pd.DataFrame, members: Members) -> tuple[bool, list[str], str]:
    """(whether every primary test and non-inferiority verdict holds across the members, the statements
    of those that do not, one sentence for the report's headline)."""
    primary = tests[tests["family"] == "primary"] if len(tests) else tests
    if len(primary):
        primary = primary[primary[members.count] > 0]  # without any p-value there is no conclusion
    if len(verdicts):
        verdicts = verdicts[verdicts[members.count] > 0]
    first = f"primary {members.noun}"
    called = {True: "significant", False: "not significant"}
    failing = [
        f"{r.cell}: {r.variant} vs {r.reference}, {r.metric} ({r.test}): {r.statement} "
        f"({first}: {called.get(r.primary_significant, 'no p-value')})"
        for r in primary.itertuples()
        if not r.holds
    ]
    failing += [
        f"{r.cell}: {r.variant} vs {r.reference}, {r.metric}: {r.statement} ({first}: {r.primary_verdict})"
        for r in verdicts.itertuples()
        if not r.holds
    ]
    conclusions = len(primary) + len(verdicts)
    if not failing:
        sentence = (
            f"Every primary test{' and non-inferiority verdict' if len(verdicts) else ''} reaches the same "
            f"conclusion with each of the {members.k} {members.across}."
        )
    else:
        sentence = (
            f"{len(failing)} of {conclusions} primary conclusions do not hold across the {members.k} "
            f"{members.across} ({members.reason}): {failing[0]}"
            + (f"; and {len(failing) - 1} more." if len(failing) > 1 else ".")
        )
    return not failing, failing, sentence


def agreement_summary(members: Members, tables: list[dict[str, pd.DataFrame]], *, confidence: float) -> dict:
    """The comparison of the members' ``analyze`` tables (``tables[i]`` for ``members.labels[i]``; the
    first is the primary analysis): summary.json's ``seeds`` or ``panel`` section, less its records of
    the classifiers."""
    alpha = round(1 - confidence, 12)  # 0.05, not 0.050000000000000044

    def compared(name: str, compare, *args) -> pd.DataFrame:
        stacked = _stacked(tables, members, name)
        return pd.DataFrame() if stacked.empty else compare(stacked, *args)

    images = compared("flipped_images", flipped_image_counts, members)
    results = {
        "classification": compared("classification", classification_spread, members),
        "paired_tests": compared("paired_tests", test_agreement, members, alpha),
        "non_inferiority": compared("non_inferiority", verdict_agreement, members),
        "flips": compared(
            "flips", flip_spread, images if len(images) else flipped_image_counts_empty(), members
        ),
        "flipped_images": images,
    }
    holds, failing, sentence = headline(results["paired_tests"], results["non_inferiority"], members)
    return {
        "k": members.k,
        members.plural: list(members.labels),
        f"primary_{members.noun}": members.labels[0],
        "method": members.method(),
        "alpha": alpha,
        f"holds_across_{members.plural}": holds,
        "not_holding": failing,
        "headline": sentence,
        "tables": {name: table_records(frame) for name, frame in results.items()},
    }


def seed_summary(
    seeds: list[int], tables: list[dict[str, pd.DataFrame]], *, confidence: float, classifiers: list[dict]
) -> dict:
    """summary.json's ``seeds`` section from each seed's ``analyze`` tables (``tables[i]`` for
    ``seeds[i]``; the first is the primary analysis); ``classifiers`` records each seed's classifier."""
    section = agreement_summary(training_seeds(seeds), tables, confidence=confidence)
    return {**section, "classifiers": classifiers}
