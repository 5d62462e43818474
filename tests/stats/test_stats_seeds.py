"""Training-seed variance (``benchmark.stats.agreement``): every count and share recounted by brute force
from the per-seed predictions."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from benchmark.stats.agreement import seed_summary
from benchmark.stats.analysis import analyze
from tests.stats.test_stats_analysis import make_predictions

SEEDS = [0, 1, 2]
EMPTY_QUALITY = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])
OPTIONS = {"n_bootstrap": 200, "seed": 0, "margins": {"accuracy": 0.1, "auroc": 0.1}}


def seed_predictions() -> dict[int, pd.DataFrame]:
    """Three "classifiers": seed 0 the base predictions, the others their probabilities perturbed
    (a variant made clearly worse in seed 0 only, so some conclusions differ between seeds)."""
    base = make_predictions()
    rng = np.random.default_rng(5)
    out = {}
    for seed in SEEDS:
        frame = base.copy()
        if seed:
            frame["prob"] = np.clip(frame["prob"] + rng.normal(0, 0.15, len(frame)), 0, 1)
        else:
            worse = (frame["variant"] == "LR") & (frame["cell"] == "x4")
            frame.loc[worse, "prob"] = np.clip(1 - frame.loc[worse, "prob"] * 0.9, 0, 1)
        out[seed] = frame
    return out


@pytest.fixture(scope="module")
def summary():
    predictions = seed_predictions()
    tables = [analyze(EMPTY_QUALITY, predictions[s], **OPTIONS) for s in SEEDS]
    return predictions, tables, seed_summary(SEEDS, tables, confidence=0.95, classifiers=[])


def test_flipped_images_count_the_seeds_in_which_each_image_flips(summary):
    predictions, _, section = summary
    expected = {}
    for frame in predictions.values():
        predicted = frame.assign(call=frame["prob"] >= 0.5).set_index(["cell", "image_id", "variant"])["call"]
        for (cell, image, variant), call in predicted.items():
            if variant != "HR" and call != predicted[(cell, image, "HR")]:
                expected[(cell, variant, image)] = expected.get((cell, variant, image), 0) + 1
    stored = {(r["cell"], r["variant"], r["image_id"]): r for r in section["tables"]["flipped_images"]}
    assert {key: r["n_seeds_flipped"] for key, r in stored.items()} == expected
    assert all(r["consistent"] == (r["n_seeds_flipped"] == 3) for r in stored.values())
    assert {r["n_seeds_flipped"] for r in stored.values()} == {1, 2, 3}  # every case occurs
    for row in section["tables"]["flips"]:
        mine = [k for k in expected if k[:2] == (row["cell"], row["variant"])]
        assert row["n_images_flipped_any_seed"] == len(mine)
        assert row["n_images_flipped_every_seed"] == sum(expected[k] == 3 for k in mine)


def test_significance_shares_are_a_recount_of_each_seeds_holm_adjusted_p(summary):
    predictions, _, section = summary
    # brute force: analyse each seed's predictions again and count with plain loops
    recount = {}
    for seed in SEEDS:
        tests = analyze(EMPTY_QUALITY, predictions[seed], **OPTIONS)["paired_tests"]
        for row in tests.to_dict("records"):
            key = (
                row["cell"],
                row["variant"],
                row["reference"],
                row["test"],
                row["metric"],
                row["threshold"],
            )
            recount.setdefault(key, []).append(row["p_adjusted"] < 0.05)
    rows = section["tables"]["paired_tests"]
    assert len(rows) == len(recount)
    partial = 0
    for row in rows:
        calls = recount[
            (row["cell"], row["variant"], row["reference"], row["test"], row["metric"], row["threshold"])
        ]
        assert row["n_significant"] == sum(calls) and row["n_seeds"] == 3
        assert row["n_agree"] == sum(call == calls[0] for call in calls)
        assert row["share_significant"] == pytest.approx(sum(calls) / 3)
        assert row["holds"] == (len(set(calls)) == 1)
        assert row["statement"] == f"significant in {sum(calls)} of 3 seeds"
        partial += 0 < sum(calls) < 3
    assert partial  # some conclusions differ between seeds


def test_noninferiority_verdicts_are_counted_per_seed(summary):
    _, tables, section = summary
    for row in section["tables"]["non_inferiority"]:
        verdicts = [
            t["non_inferiority"]
            .set_index(["cell", "variant", "metric"])
            .loc[(row["cell"], row["variant"], row["metric"]), "verdict"]
            for t in tables
        ]
        assert [row[f"verdict_seed_{s}"] for s in SEEDS] == verdicts
        assert row["n_non_inferior"] == verdicts.count("non-inferior")
        assert row["n_inferior"] == verdicts.count("inferior")
        assert row["n_agree"] == verdicts.count(verdicts[0]) and row["holds"] == (len(set(verdicts)) == 1)


def test_estimates_spread_is_the_per_seed_estimates_mean_sd_and_range(summary):
    predictions, _, section = summary
    row = next(
        r
        for r in section["tables"]["classification"]
        if (r["cell"], r["variant"], r["metric"], r["threshold"]) == ("x4", "LR", "accuracy", "0.5")
    )
    values = []
    for seed in SEEDS:
        frame = predictions[seed].query("cell == 'x4' and variant == 'LR'")
        values.append(accuracy_score(frame["label"], frame["prob"] >= 0.5))
    assert [row[f"seed_{s}"] for s in SEEDS] == pytest.approx(values)
    assert row["mean"] == pytest.approx(np.mean(values)) and row["sd"] == pytest.approx(
        np.std(values, ddof=1)
    )
    assert (row["min"], row["max"]) == pytest.approx((min(values), max(values)))


def test_the_headline_says_when_a_primary_conclusion_does_not_hold_across_seeds(summary):
    _, _, section = summary
    primary = [r for r in section["tables"]["paired_tests"] if r["family"] == "primary"]
    failing = [r for r in primary if not r["holds"]] + [
        r for r in section["tables"]["non_inferiority"] if not r["holds"]
    ]
    assert failing and not section["holds_across_seeds"]
    assert len(section["not_holding"]) == len(failing)
    assert section["headline"].startswith(f"{len(failing)} of ")
    assert "do not hold across the 3 training seeds" in section["headline"]
    same = seed_summary([0, 1], [summary[1][0], summary[1][0]], confidence=0.95, classifiers=[])
    assert same["holds_across_seeds"] and same["not_holding"] == []
    assert "same conclusion with each of the 2 training seeds" in same["headline"]
