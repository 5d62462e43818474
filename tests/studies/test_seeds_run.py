"""`classifier: {seeds: K}` end to end on the tiny phantom suite: K = 2 trains and caches two different
classifiers, stores both seeds' predictions and a seeds section recounted here from them; K = 1 (the
default) writes exactly what a run wrote before seeds existed."""

import copy
import json

import pandas as pd
import pytest

from tests.support.suite_files import RAW, run_cli

pytestmark = pytest.mark.slow

#: summary.json's top-level keys before training seeds existed (and still, with one seed).
SINGLE_SEED_KEYS = [
    "suite",
    "run_id",
    "created",
    "synthetic_data",
    "data_note",
    "n_images",
    "skipped_images",
    "declared_duplicates",
    "cells",
    "variants",
    "statistics",
    "leakage",
    "tables",
    "throughput",
    "training",
    "classifier",
    "lpips_weights",
    "metric_specs",
    "files",  # last: the checksums of every other file (cxr_kernel.run_files)
]


def _suite(seeds: int | None) -> dict:
    raw = copy.deepcopy(RAW)
    raw["data"]["phantoms"]["test_per_class"] = 4
    # The one-epoch classifiers give every phantom P(pneumonia) of about 0.501-0.509; this threshold
    # makes some images flip with seed 0's classifier (on the machine this was written on).
    raw["stats"] = {"n_bootstrap": 200, "margins": {"accuracy": 0.1}, "threshold": 0.5025}
    if seeds is not None:
        raw["classifier"]["seeds"] = seeds
    return raw


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One runs folder (one cache): the default suite, then the same suite with seeds: 2."""
    folder = tmp_path_factory.mktemp("seeds")
    out = {}
    for seeds in (None, 2):
        assert run_cli(folder, _suite(seeds)) == 0
        (new,) = set((folder / "runs" / "tiny").iterdir()) - set(out.values())
        out[seeds] = new
    return folder, out


def recounted_flips(stored: pd.DataFrame, member: str, threshold: float) -> tuple[dict, dict]:
    """From stored per-member predictions (``member`` the column naming it), with loops: in how many
    members each (cell, variant, image) flips against that member's HR call, and each member's flip
    count per (cell, variant)."""
    calls = stored.assign(call=stored["prob"] >= threshold).set_index([member, "cell", "image_id", "variant"])
    calls = calls["call"]
    images, counts = {}, {}
    for (who, cell, image, variant), call in calls.items():
        if variant != "HR":
            flipped = bool(call != calls[(who, cell, image, "HR")])
            counts[(who, cell, variant)] = counts.get((who, cell, variant), 0) + flipped
            if flipped:
                images[(cell, variant, image)] = images.get((cell, variant, image), 0) + 1
    print(f"{len(images)} flipped (cell, variant, image)")
    return images, counts


def _summary(run) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_one_seed_writes_the_same_keys_as_before_and_no_seed_files(runs):
    _, run = runs
    summary = _summary(run[None])
    assert list(summary) == SINGLE_SEED_KEYS
    assert not (run[None] / "predictions_seeds.parquet").exists()
    assert not list((run[None] / "tables").glob("seeds*"))
    assert "Training seeds" not in (run[None] / "report.html").read_text()


def test_the_primary_seed_is_the_single_seed_run(runs):
    """Seed 0 of the two-seed run is the default run's classifier (same cache entry), so every table of
    the primary analysis is the default run's."""
    _, run = runs
    single, double = _summary(run[None]), _summary(run[2])
    assert list(double) == [*SINGLE_SEED_KEYS[:-1], "seeds", "files"]
    assert double["classifier"]["sha256"] == single["classifier"]["sha256"]
    assert double["tables"] == single["tables"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(run[None] / "predictions.parquet"), pd.read_parquet(run[2] / "predictions.parquet")
    )


def test_two_seeds_train_two_cached_classifiers_and_store_both_predictions(runs):
    folder, run = runs
    section = _summary(run[2])["seeds"]
    assert section["k"] == 2 and section["seeds"] == [0, 1] and section["primary_seed"] == 0
    first, second = section["classifiers"]
    assert first["sha256"] != second["sha256"]
    cached = {p.name for p in (folder / "runs" / ".cache" / "classifier").rglob("*.keras")}
    assert {first["path"].rsplit("/", 1)[-1], second["path"].rsplit("/", 1)[-1]} <= cached
    assert (run[2] / second["history_csv"]).is_file() and (run[2] / second["train_images_csv"]).is_file()
    stored = pd.read_parquet(run[2] / "predictions_seeds.parquet")
    primary = stored[stored["seed"] == 0].drop(columns="seed").reset_index(drop=True)
    pd.testing.assert_frame_equal(primary, pd.read_parquet(run[2] / "predictions.parquet"))
    other = stored[stored["seed"] == 1]
    assert len(other) == len(primary) and not (other["prob"].to_numpy() == primary["prob"].to_numpy()).all()


def test_seed_counts_are_recounted_from_the_stored_predictions(runs):
    _, run = runs
    section = _summary(run[2])["seeds"]
    stored = pd.read_parquet(run[2] / "predictions_seeds.parquet")
    flips, counts = recounted_flips(stored, "seed", 0.5025)
    rows = section["tables"]["flipped_images"]
    assert {(r["cell"], r["variant"], r["image_id"]): r["n_seeds_flipped"] for r in rows} == flips
    for row in section["tables"]["flips"]:
        assert [row["seed_0"], row["seed_1"]] == [counts[(s, row["cell"], row["variant"])] for s in (0, 1)]
    accuracy = {
        seed: ((frame["prob"] >= 0.5025) == frame["label"]).mean()
        for seed, frame in stored[stored["variant"] == "HR"].groupby("seed")
    }
    hr = next(
        r
        for r in section["tables"]["classification"]
        if r["variant"] == "HR" and r["metric"] == "accuracy" and r["threshold"] == "0.5025"
    )
    assert [hr["seed_0"], hr["seed_1"]] == pytest.approx([accuracy[0], accuracy[1]])
    assert section["holds_across_seeds"] == all(
        r["holds"] for r in section["tables"]["paired_tests"] if r["family"] == "primary"
    ) and all(r["holds"] for r in section["tables"]["non_inferiority"])


def test_the_report_and_tables_show_the_seed_section(runs):
    _, run = runs
    section = _summary(run[2])["seeds"]
    html = (run[2] / "report.html").read_text()
    assert "Training seeds" in html and section["headline"].split(" (")[0] in html
    written = {p.name for p in (run[2] / "tables").glob("seeds*")}
    assert {
        "seeds.tex",
        "seeds_paired_tests.csv",
        "seeds_flipped_images.csv",
        "seeds_classification.csv",
    } <= written


def test_bootstrap_train_trains_further_seeds_on_a_patient_resample_of_the_split(tmp_path):
    from benchmark.pipeline.classifier_setup import bootstrap_training_split

    raw = _suite(2)
    raw["data"]["phantoms"]["train_per_class"] = 4
    raw["classifier"]["bootstrap_train"] = True
    assert run_cli(tmp_path, raw) == 0
    (run,) = (tmp_path / "runs" / "tiny").iterdir()
    section = _summary(run)["seeds"]
    assert section["bootstrap_train"] and [c["bootstrap_train"] for c in section["classifiers"]] == [
        False,
        True,
    ]
    whole = pd.read_csv(run / "classifier" / "train_images.csv")
    resampled = pd.read_csv(run / "classifier" / "seed-1" / "train_images.csv")
    expected = bootstrap_training_split(whole.drop(columns="role"), 1)
    assert list(resampled["image_id"]) == list(expected["image_id"])
    assert list(resampled["image_id"]) != list(whole["image_id"])
    # copies of a patient stay on one side of the validation split
    assert (resampled.groupby("patient_id")["role"].nunique() == 1).all()
