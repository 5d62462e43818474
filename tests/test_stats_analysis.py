"""analyze(): exact table layout, numbers against scikit-learn/scipy/statsmodels, and input errors."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from benchmark.errors import UserError
from benchmark.stats.analysis import analyze

VARIANTS = ("HR", "LR", "srcnn", "edsr")
N_IMAGES = 40


def make_predictions(cells=("x2", "x4"), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cell in cells:
        labels = np.r_[np.zeros(N_IMAGES // 2), np.ones(N_IMAGES // 2)].astype(int)
        latent = rng.normal(0, 1, N_IMAGES) + 1.5 * labels
        for variant in VARIANTS:
            probs = 1 / (1 + np.exp(-(latent + rng.normal(0, 0.8, N_IMAGES))))
            rows += [
                {"cell": cell, "variant": variant, "image_id": f"img{i:03d}", "label": label, "prob": prob}
                for i, (label, prob) in enumerate(zip(labels, probs, strict=True))
            ]
    return pd.DataFrame(rows)


def make_quality(cells=("x2", "x4"), seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for cell in cells:
        for offset, variant in enumerate(VARIANTS[1:]):
            for metric, center in (("psnr", 28.0), ("ssim", 0.8)):
                values = center + 0.01 * center * (offset + rng.normal(0, 1, N_IMAGES))
                rows += [
                    {
                        "cell": cell,
                        "variant": variant,
                        "image_id": f"img{i:03d}",
                        "metric": metric,
                        "value": value,
                    }
                    for i, value in enumerate(values)
                ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tables():
    return analyze(make_quality(), make_predictions(), n_bootstrap=300, seed=0)


def _wide(predictions: pd.DataFrame, cell: str) -> pd.DataFrame:
    return predictions[predictions["cell"] == cell].pivot(index="image_id", columns="variant", values="prob")


def _labels(predictions: pd.DataFrame, cell: str) -> pd.Series:
    rows = predictions[(predictions["cell"] == cell) & (predictions["variant"] == "HR")]
    return rows.set_index("image_id")["label"].sort_index()


def test_analyze_returns_exactly_the_documented_columns(tables):
    assert list(tables) == ["quality", "classification", "paired_tests", "flips", "flipped_images"]
    assert list(tables["quality"].columns) == [
        "cell",
        "variant",
        "metric",
        "n",
        "mean",
        "std",
        "median",
        "ci_low",
        "ci_high",
        "ci_method",
    ]
    assert list(tables["classification"].columns) == [
        "cell",
        "variant",
        "metric",
        "n",
        "estimate",
        "ci_low",
        "ci_high",
        "ci_method",
    ]
    assert list(tables["paired_tests"].columns) == [
        "cell",
        "variant",
        "reference",
        "test",
        "metric",
        "estimate_variant",
        "estimate_reference",
        "difference",
        "ci_low",
        "ci_high",
        "statistic",
        "p_value",
        "p_adjusted",
        "n",
        "note",
    ]
    assert list(tables["flips"].columns) == [
        "cell",
        "variant",
        "n",
        "n_flips",
        "flip_rate",
        "normal_to_pneumonia",
        "pneumonia_to_normal",
        "correct_to_wrong",
        "wrong_to_correct",
    ]
    assert list(tables["flipped_images"].columns) == [
        "cell",
        "variant",
        "image_id",
        "label",
        "prob_hr",
        "prob_variant",
        "pred_hr",
        "pred_variant",
    ]


def test_every_variant_is_paired_with_hr_and_every_other_variant_once(tables):
    tests = tables["paired_tests"]
    for cell in ("x2", "x4"):
        pairs = set(map(tuple, tests.loc[tests["cell"] == cell, ["variant", "reference"]].to_numpy()))
        assert pairs == {
            ("LR", "HR"),
            ("srcnn", "HR"),
            ("edsr", "HR"),
            ("srcnn", "LR"),
            ("edsr", "LR"),
            ("edsr", "srcnn"),
        }
    kinds = tests.groupby(["test", "metric"]).size().to_dict()
    # 2 cells x 6 pairs for prediction tests; image-quality Wilcoxon only for the 3 non-HR pairs.
    assert kinds == {
        ("mcnemar", "accuracy"): 12,
        ("delong", "auroc"): 12,
        ("bootstrap", "accuracy"): 12,
        ("bootstrap", "auroc"): 12,
        ("wilcoxon", "prob"): 12,
        ("wilcoxon", "psnr"): 6,
        ("wilcoxon", "ssim"): 6,
    }


def test_classification_estimates_match_scikit_learn(tables):
    predictions = make_predictions()
    table = tables["classification"].set_index(["cell", "variant", "metric"])
    for cell in ("x2", "x4"):
        labels = _labels(predictions, cell).to_numpy()
        for variant, probs in _wide(predictions, cell).items():
            predicted = (probs.to_numpy() >= 0.5).astype(int)
            expected = {
                "accuracy": skm.accuracy_score(labels, predicted),
                "sensitivity": skm.recall_score(labels, predicted),
                "specificity": skm.recall_score(labels, predicted, pos_label=0),
                "auroc": skm.roc_auc_score(labels, probs),
                "log_loss": skm.log_loss(labels, probs),
                "brier": skm.brier_score_loss(labels, probs),
            }
            for metric, value in expected.items():
                assert table.loc[(cell, variant, metric), "estimate"] == pytest.approx(value, rel=1e-12)


def test_proportions_have_wilson_intervals_from_statsmodels(tables):
    rows = tables["classification"]
    for row in rows[rows["metric"].isin(["accuracy", "sensitivity", "specificity"])].itertuples():
        successes = round(row.estimate * row.n)
        expected = proportion_confint(successes, row.n, alpha=0.05, method="wilson")
        assert (row.ci_low, row.ci_high) == pytest.approx(expected, rel=1e-12)
        assert row.ci_method == "wilson"
    assert set(rows.loc[rows["metric"] == "sensitivity", "n"]) == {N_IMAGES // 2}


def test_bootstrap_intervals_bracket_the_estimate(tables):
    rows = tables["classification"]
    smooth = rows[rows["metric"].isin(["log_loss", "brier", "auroc"])]
    assert ((smooth["ci_low"] < smooth["estimate"]) & (smooth["estimate"] < smooth["ci_high"])).all()
    assert set(rows.loc[rows["metric"] == "auroc", "ci_method"]) == {"delong"}
    assert set(rows.loc[rows["metric"].isin(["log_loss", "brier", "ece"]), "ci_method"]) == {
        "bootstrap-percentile"
    }


def test_mcnemar_and_wilcoxon_rows_match_scipy_on_the_aligned_images(tables):
    predictions = make_predictions()
    tests = tables["paired_tests"].set_index(["cell", "variant", "reference", "test", "metric"])
    labels = _labels(predictions, "x4").to_numpy()
    wide = _wide(predictions, "x4")
    correct_v = (wide["edsr"].to_numpy() >= 0.5) == labels
    correct_r = (wide["LR"].to_numpy() >= 0.5) == labels
    b, c = int(np.sum(correct_v & ~correct_r)), int(np.sum(~correct_v & correct_r))
    mcnemar = tests.loc[("x4", "edsr", "LR", "mcnemar", "accuracy")]
    assert mcnemar["p_value"] == pytest.approx(stats.binomtest(min(b, c), b + c).pvalue if b + c else 1.0)
    assert mcnemar["difference"] == pytest.approx(correct_v.mean() - correct_r.mean())
    wilcoxon = tests.loc[("x4", "edsr", "LR", "wilcoxon", "prob")]
    expected = stats.wilcoxon(wide["edsr"], wide["LR"], zero_method="pratt")
    assert wilcoxon["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert wilcoxon["difference"] == pytest.approx(np.median(wide["edsr"] - wide["LR"]))


def test_image_quality_wilcoxon_compares_per_image_values(tables):
    quality = make_quality()
    rows = quality[(quality["cell"] == "x2") & (quality["metric"] == "psnr")]
    wide = rows.pivot(index="image_id", columns="variant", values="value")
    row = (
        tables["paired_tests"]
        .set_index(["cell", "variant", "reference", "test", "metric"])
        .loc[("x2", "srcnn", "LR", "wilcoxon", "psnr")]
    )
    assert row["p_value"] == pytest.approx(stats.wilcoxon(wide["srcnn"], wide["LR"]).pvalue, rel=1e-12)
    assert row["estimate_variant"] == pytest.approx(wide["srcnn"].median())


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down by hand: sorted p_(i) times (m - i), running maximum, capped at 1."""
    order = np.argsort(p_values)
    adjusted = np.empty_like(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(p_values) - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def test_p_adjusted_is_holm_within_each_cell_test_metric_family(tables):
    for _, family in tables["paired_tests"].groupby(["cell", "test", "metric"]):
        np.testing.assert_allclose(family["p_adjusted"], _holm(family["p_value"].to_numpy()), rtol=1e-12)
    assert (tables["paired_tests"]["p_adjusted"] >= tables["paired_tests"]["p_value"]).all()


def test_flips_match_a_count_from_the_merged_table(tables):
    predictions = make_predictions()
    hr = predictions[predictions["variant"] == "HR"]
    variants = predictions[predictions["variant"] != "HR"]
    merged = variants.merge(hr, on=["cell", "image_id"], suffixes=("", "_hr"))
    merged["pred"], merged["pred_hr"] = merged["prob"] >= 0.5, merged["prob_hr"] >= 0.5
    flipped = merged[merged["pred"] != merged["pred_hr"]]
    expected = flipped.groupby(["cell", "variant"]).agg(
        n_flips=("image_id", "size"),
        normal_to_pneumonia=("pred", "sum"),
        wrong_to_correct=("pred", lambda s: int((s.astype(int) == flipped.loc[s.index, "label"]).sum())),
    )
    flips = tables["flips"].set_index(["cell", "variant"])
    for key, row in expected.iterrows():
        assert flips.loc[key, "n_flips"] == row["n_flips"]
        assert flips.loc[key, "normal_to_pneumonia"] == row["normal_to_pneumonia"]
        assert flips.loc[key, "wrong_to_correct"] == row["wrong_to_correct"]
        assert flips.loc[key, "flip_rate"] == pytest.approx(row["n_flips"] / N_IMAGES)
    images = tables["flipped_images"]
    assert len(images) == flips["n_flips"].sum() == len(flipped)
    assert (images["pred_hr"] != images["pred_variant"]).all()


def test_quality_summary_skips_infinite_psnr_and_uses_t_intervals():
    quality = make_quality(cells=("x2",))
    first = quality.index[(quality["metric"] == "psnr") & (quality["variant"] == "LR")][0]
    quality.loc[first, "value"] = np.inf
    tables = analyze(quality, make_predictions(cells=("x2",)), n_bootstrap=50)
    table = tables["quality"]
    row = table.set_index(["variant", "metric"]).loc[("LR", "psnr")]
    finite = quality.loc[(quality["metric"] == "psnr") & (quality["variant"] == "LR"), "value"].iloc[1:]
    assert row["n"] == N_IMAGES - 1
    assert row["mean"] == pytest.approx(finite.mean()) and row["median"] == pytest.approx(finite.median())
    assert row["std"] == pytest.approx(finite.std())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(DescrStatsW(finite.to_numpy()).tconfint_mean())
    assert row["ci_method"] == "t"
    tests = tables["paired_tests"]
    psnr_rows = tests[(tests["metric"] == "psnr") & (tests["reference"] == "LR")]
    assert (psnr_rows["n"] == N_IMAGES - 1).all()
    assert psnr_rows["note"].str.contains("1 images with non-finite values dropped").all()


def test_same_seed_gives_identical_tables_and_cells_are_independent(tables):
    again = analyze(make_quality(), make_predictions(), n_bootstrap=300, seed=0)
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], again[name])
    quality, predictions = make_quality(), make_predictions()
    quality, predictions = quality[quality["cell"] == "x4"], predictions[predictions["cell"] == "x4"]
    alone = analyze(quality, predictions, n_bootstrap=300, seed=0)
    for name in ("classification", "paired_tests"):
        both = tables[name][tables[name]["cell"] == "x4"].reset_index(drop=True)
        pd.testing.assert_frame_equal(both, alone[name])
    other = analyze(quality, predictions, n_bootstrap=300, seed=1)["classification"]
    assert not np.allclose(other["ci_low"], alone["classification"]["ci_low"])


def test_empty_quality_gives_an_empty_quality_table():
    tables = analyze(make_quality().iloc[:0], make_predictions(cells=("x2",)), n_bootstrap=50)
    assert tables["quality"].empty and list(tables["quality"].columns)[-1] == "ci_method"
    assert set(tables["paired_tests"]["metric"]) == {"accuracy", "auroc", "prob"}


def test_quality_alone_still_gives_summaries_and_quality_tests():
    tables = analyze(make_quality(cells=("x2",)), make_predictions().iloc[:0], n_bootstrap=50)
    assert len(tables["quality"]) == 6 and tables["classification"].empty
    assert set(tables["paired_tests"]["metric"]) == {"psnr", "ssim"}


def test_variant_missing_images_raises_a_clear_error():
    predictions = make_predictions(cells=("x2",))
    predictions = predictions.drop(predictions.index[(predictions["variant"] == "srcnn")][:3])
    with pytest.raises(UserError, match="variant 'srcnn' has 37 of the 40 image ids; missing 'img000'"):
        analyze(make_quality().iloc[:0], predictions)


def test_one_class_cell_raises_the_auroc_error():
    predictions = make_predictions(cells=("x2",)).assign(label=1)
    with pytest.raises(UserError, match="AUROC needs both classes; got only label 1 in 40 images"):
        analyze(make_quality().iloc[:0], predictions)


def test_cell_without_hr_raises():
    predictions = make_predictions(cells=("x2",))
    with pytest.raises(UserError, match="Expected a variant 'HR' in cell 'x2'"):
        analyze(make_quality().iloc[:0], predictions[predictions["variant"] != "HR"])


def test_duplicate_prediction_rows_raise():
    predictions = make_predictions(cells=("x2",))
    with pytest.raises(UserError, match="duplicated rows"):
        analyze(make_quality().iloc[:0], pd.concat([predictions, predictions.iloc[:2]]))


def test_probabilities_outside_unit_interval_raise_with_min_and_max():
    predictions = make_predictions(cells=("x2",))
    predictions.loc[0, "prob"] = 1.5
    with pytest.raises(UserError, match="max 1.5"):
        analyze(make_quality().iloc[:0], predictions)


def test_hr_rows_in_quality_raise():
    quality = make_quality(cells=("x2",))
    quality.loc[0, "variant"] = "HR"
    with pytest.raises(UserError, match="no 'HR' rows in the quality table"):
        analyze(quality, make_predictions(cells=("x2",)))


def test_missing_columns_are_named():
    with pytest.raises(UserError, match=r"missing \['prob'\]"):
        analyze(make_quality().iloc[:0], make_predictions(cells=("x2",)).drop(columns="prob"))
