"""Non-inferiority and TOST verdicts: duality with the intervals, AUROC via DeLong, the analyze table."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmark.stats import noninferiority
from benchmark.stats.analysis import analyze
from benchmark.stats.paired import delong_test
from benchmark.stats.records import table_records


def test_proportion_verdicts_follow_the_newcombe_bound_and_the_margin():
    # 400 images, variant right on 8 more than HR: clearly within a 5-point margin
    result = noninferiority.proportion_result(300, 30, 22, 48, 0.05, confidence=0.95, deff=1.0)
    assert result["verdict"] == "non-inferior" and result["lower_bound"] > -0.05 and result["p_value"] < 0.025
    # variant wrong on 40 more: the whole interval lies below -margin
    result = noninferiority.proportion_result(300, 2, 42, 56, 0.02, confidence=0.95, deff=1.0)
    assert result["verdict"] == "inferior" and result["ci_high"] < -0.02 and result["p_value"] > 0.5
    # tiny study: inconclusive
    result = noninferiority.proportion_result(10, 1, 2, 2, 0.02, confidence=0.95, deff=1.0)
    assert result["verdict"] == "inconclusive" and result["equivalence"] == "not shown"


def test_equivalence_needs_both_one_sided_tests():
    result = noninferiority.proportion_result(2000, 20, 20, 60, 0.03, confidence=0.95, deff=1.0)
    assert result["equivalence"] == "equivalent" and -0.03 < result["ci_low"] < result["ci_high"] < 0.03
    wide = noninferiority.proportion_result(2000, 20, 20, 60, 0.03, confidence=0.95, deff=20.0)
    assert wide["equivalence"] == "not shown" and wide["p_equivalence"] > result["p_equivalence"]


def test_auroc_non_inferiority_is_the_delong_z_test_shifted_by_the_margin():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(60), np.zeros(60)].astype(int)
    reference = rng.normal(0, 1, 120) + 1.5 * labels
    variant = reference + rng.normal(0, 0.5, 120)
    delong = delong_test(labels, variant, reference)
    standard_error = (delong.ci_high - delong.ci_low) / (2 * stats.norm.isf(0.025))
    result = noninferiority.normal_result(delong.difference, standard_error, 0.05, confidence=0.95)
    assert result["p_value"] == pytest.approx(stats.norm.sf((delong.difference + 0.05) / standard_error))
    assert result["lower_bound"] == pytest.approx(delong.ci_low)


def _predictions(n=60, seed=1):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    latent = rng.normal(0, 1, n) + 2 * labels
    rows = []
    for variant, noise in (("HR", 0.3), ("sr", 0.4), ("flat", None)):
        probs = np.full(n, 0.2) if noise is None else 1 / (1 + np.exp(-(latent + rng.normal(0, noise, n))))
        rows += [
            {"cell": "x4", "variant": variant, "image_id": f"i{i}", "label": label, "prob": prob}
            for i, (label, prob) in enumerate(zip(labels, probs, strict=True))
        ]
    return pd.DataFrame(rows)


EMPTY_QUALITY = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])


def test_analyze_writes_one_non_inferiority_row_per_cell_variant_and_margin():
    margins = {"accuracy": 0.02, "sensitivity": 0.02, "auroc": 0.01}
    tables = analyze(EMPTY_QUALITY, _predictions(), n_bootstrap=200, margins=margins)
    rows = tables["non_inferiority"]
    assert len(rows) == 2 * 3
    assert set(rows["verdict"]) <= {"non-inferior", "inconclusive", "inferior"}
    flat = rows.set_index(["variant", "metric"]).loc[("flat", "sensitivity")]
    assert flat["estimate_variant"] == 0 and flat["verdict"] == "inferior"
    assert rows.set_index(["variant", "metric"]).loc[("flat", "auroc"), "estimate_variant"] == 0.5


def test_degenerate_variants_give_nan_or_honest_intervals_never_zero_width_or_p_zero():
    tables = analyze(EMPTY_QUALITY, _predictions(), n_bootstrap=200)
    classification = tables["classification"].set_index(["variant", "metric", "threshold"])
    sensitivity = classification.loc[("flat", "sensitivity", "0.5")]
    assert sensitivity["estimate"] == 0 and 0 == sensitivity["ci_low"] < sensitivity["ci_high"]
    auroc = classification.loc[("flat", "auroc", "")]
    assert np.isnan(auroc["ci_low"]) and "degenerate" in auroc["note"]
    tests = tables["paired_tests"].set_index(["variant", "reference", "test", "metric"])
    delong = tests.loc[("flat", "HR", "delong", "auroc")]
    assert delong["ci_low"] != delong["ci_high"]  # NaN != NaN, or a real interval
    assert (tables["paired_tests"]["p_value"].dropna() > 0).all()


def test_stored_records_keep_tiny_p_values_and_holm_recomputes_from_them():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(5)
    n = 400
    labels = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    hr = np.where(labels == 1, 0.9, 0.1) + rng.uniform(-0.05, 0.05, n)
    bad = np.where(labels == 1, 0.1, 0.9) + rng.uniform(-0.05, 0.05, n)  # wrong on every image
    rows = [
        {"cell": "c", "variant": v, "image_id": f"i{i}", "label": int(label), "prob": float(p)}
        for v, probs in (("HR", hr), ("bad", bad), ("bad2", np.clip(hr + 0.02, 0, 1)))
        for i, (label, p) in enumerate(zip(labels, probs, strict=True))
    ]
    tables = analyze(EMPTY_QUALITY, pd.DataFrame(rows), n_bootstrap=200)
    stored = json.loads(json.dumps(table_records(tables["paired_tests"])))
    p_values = [r["p_value"] for r in stored if r["p_value"] is not None]
    assert min(p_values) < 1e-10 and min(p_values) > 0  # the old 10-decimal JSON wrote these as 0.0
    assert p_values == [p for p in tables["paired_tests"]["p_value"] if not np.isnan(p)]
    frame = pd.DataFrame(stored).assign(against_hr=lambda f: f["reference"] == "HR")
    for _, family in frame[frame["p_value"].notna()].groupby(
        ["cell", "family", "test", "metric", "against_hr"]
    ):
        if family["family"].iloc[0] == "supplementary":
            expected = multipletests(family["p_value"].to_numpy(), method="holm")[1]
            np.testing.assert_array_equal(family["p_adjusted"].to_numpy(), expected)
    primary = frame[(frame["family"] == "primary") & frame["p_value"].notna()]
    # DeLong of a perfectly wrong against a perfectly right ranking: zero variance -> NaN, not p = 0
    delong = frame[(frame["variant"] == "bad") & (frame["reference"] == "HR") & (frame["test"] == "delong")]
    assert delong["p_value"].isna().all() and "zero variance" in delong["note"].iloc[0]
    np.testing.assert_array_equal(
        primary["p_adjusted"].to_numpy(), multipletests(primary["p_value"].to_numpy(), method="holm")[1]
    )


def test_exported_csv_tables_keep_full_precision(tmp_path):
    from reports.exports import write_tables

    tables = analyze(EMPTY_QUALITY, _predictions(), n_bootstrap=100, margins={"accuracy": 0.02})
    records = {name: table_records(frame) for name, frame in tables.items()}
    records["paired_tests"][0]["p_value"] = 1.6e-11  # what 10-decimal JSON once stored as 0.0
    summary = {
        "suite": "s",
        "run_id": "r",
        "cells": [{"cell": "x4", "scenario": "bicubic", "scale": 4}],
        "variants": ["HR", "sr", "flat"],
    }
    (tmp_path / "summary.json").write_text(json.dumps({**summary, "tables": records}))
    write_tables(tmp_path)
    paired = pd.read_csv(tmp_path / "tables" / "paired_tests.csv")
    assert paired["p_value"].iloc[0] == 1.6e-11
    assert paired["p_value"].iloc[1:].tolist() == pytest.approx(
        [r["p_value"] for r in records["paired_tests"][1:]], rel=0, abs=0, nan_ok=True
    )
    assert (tmp_path / "tables" / "non_inferiority.csv").is_file()
