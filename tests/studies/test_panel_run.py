"""`classifiers: [...]` (a panel) end to end on the tiny phantom suite: two trained classifiers, the second
with two training seeds; the first member's analysis is the one-classifier run's, every member's
predictions are stored, and the panel's counts are recounted here from them."""

import copy
import json

import pandas as pd
import pytest

from tests.studies.test_seeds_run import SINGLE_SEED_KEYS, recounted_flips
from tests.support.suite_files import RAW, run_cli

pytestmark = pytest.mark.slow

THRESHOLD = 0.5025  # one-epoch classifiers put every phantom near 0.5 (see test_seeds_run)
FIRST = {"train": {"epochs": 1}, "input_size": 94}
# another input size: the LR images are shown to it resized straight to 96 px
SECOND = {"train": {"epochs": 1}, "input_size": 96, "seeds": 2}


def _suite(classifiers: list[dict] | None) -> dict:
    raw = copy.deepcopy(RAW)
    raw["data"]["phantoms"]["test_per_class"] = 4
    raw["stats"] = {"n_bootstrap": 200, "margins": {"accuracy": 0.1}, "threshold": THRESHOLD}
    if classifiers is not None:
        del raw["classifier"]
        raw["classifiers"] = classifiers
    else:
        raw["classifier"] = FIRST
    return raw


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One runs folder (one cache): the one-classifier suite, then a panel whose first member is it."""
    folder = tmp_path_factory.mktemp("panel")
    out = {}
    for key, classifiers in (("single", None), ("panel", [{"name": "a", **FIRST}, {"name": "b", **SECOND}])):
        assert run_cli(folder, _suite(classifiers)) == 0
        (new,) = set((folder / "runs" / "tiny").iterdir()) - set(out.values())
        out[key] = new
    return out


def _summary(run) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_the_first_member_is_the_one_classifier_run(runs):
    single, panel = _summary(runs["single"]), _summary(runs["panel"])
    assert list(single) == SINGLE_SEED_KEYS and list(panel) == [*SINGLE_SEED_KEYS[:-1], "panel", "files"]
    assert panel["classifier"] == single["classifier"] and panel["tables"] == single["tables"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(runs["single"] / "predictions.parquet"),
        pd.read_parquet(runs["panel"] / "predictions.parquet"),
    )
    config = (runs["panel"] / "config.yaml").read_text()
    assert "classifiers:" in config and "\nclassifier:" not in config
    assert "classifiers" not in (runs["single"] / "config.yaml").read_text()


def test_every_member_and_seed_is_stored_and_the_second_has_its_own_seeds_and_tables(runs):
    run = runs["panel"]
    stored = pd.read_parquet(run / "predictions_panel.parquet")
    assert sorted(set(zip(stored["classifier"], stored["seed"], strict=True))) == [
        ("a", 0),
        ("b", 0),
        ("b", 1),
    ]
    first = stored[stored["classifier"] == "a"].drop(columns=["classifier", "seed"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(first, pd.read_parquet(run / "predictions.parquet"))
    section = _summary(run)["panel"]
    assert section["k"] == 2 and section["classifiers"] == ["a", "b"] and section["primary_classifier"] == "a"
    a, b = section["members"]
    assert "tables" not in a and "seeds" not in a  # the page's own tables and seeds
    assert b["seeds"]["k"] == 2 and b["seeds"]["seeds"] == [0, 1]
    assert b["sha256"] != a["sha256"] and (run / b["history_csv"]).is_file()
    assert b["history_csv"] == "classifiers/b/history.csv"
    assert (run / "classifiers" / "b" / "seed-1" / "history.csv").is_file()
    # b's own accuracy at HR, counted from its stored predictions
    hr = stored.query("classifier == 'b' and seed == 0 and variant == 'HR'")
    accuracy = ((hr["prob"] >= THRESHOLD) == hr["label"]).mean()
    row = next(
        r
        for r in b["tables"]["classification"]
        if r["variant"] == "HR" and r["metric"] == "accuracy" and r["threshold"] == str(THRESHOLD)
    )
    assert row["estimate"] == pytest.approx(accuracy)


def test_panel_counts_are_recounted_from_the_stored_predictions(runs):
    run = runs["panel"]
    section = _summary(run)["panel"]
    stored = pd.read_parquet(run / "predictions_panel.parquet").query("seed == 0")
    flips, counts = recounted_flips(stored, "classifier", THRESHOLD)
    rows = section["tables"]["flipped_images"]
    assert {(r["cell"], r["variant"], r["image_id"]): r["n_classifiers_flipped"] for r in rows} == flips
    for row in section["tables"]["flips"]:
        counted = [counts[(name, row["cell"], row["variant"])] for name in ("a", "b")]
        assert [row["classifier_a"], row["classifier_b"]] == counted
    for row in section["tables"]["non_inferiority"]:
        verdicts = [row["verdict_classifier_a"], row["verdict_classifier_b"]]
        assert row["n_agree"] == verdicts.count(verdicts[0]) and row["holds"] == (len(set(verdicts)) == 1)
    assert section["holds_across_classifiers"] == all(
        r["holds"] for r in section["tables"]["paired_tests"] if r["family"] == "primary"
    ) and all(r["holds"] for r in section["tables"]["non_inferiority"])


def test_the_report_answers_for_the_panel_and_shows_each_member(runs):
    run = runs["panel"]
    section = _summary(run)["panel"]
    html = (run / "report.html").read_text()
    assert "Classifier panel" in html and section["headline"].split(" (")[0] in html
    assert "of 2 classifiers" in html  # the answer line: holds for n of 2 classifiers
    assert "Training seeds 0, 1:" in html  # b's seeds
    # the methods paragraph names each member with its type and input, as its loaded model describes it
    assert "a panel of 2 classifiers (a (keras, 94×94 RGB input, nearest) and b (keras, 96×96" in html
    written = {p.name for p in (run / "tables").glob("panel*")}
    assert {"panel.tex", "panel_paired_tests.csv", "panel_flips.csv", "panel_b_classification.csv"} <= written
    assert "Classifier panel" not in (runs["single"] / "report.html").read_text()
