"""analyze(): exact table layout, numbers against scikit-learn/scipy/statsmodels, and input errors."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

from benchmark.stats.analysis import analyze
from benchmark.stats.schema import TABLE_COLUMNS
from cxr_kernel.errors import UserError

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


@pytest.fixture(scope="module")
def percentile_tables():
    return analyze(make_quality(), make_predictions(), n_bootstrap=300, seed=0, bootstrap_ci="percentile")


def _resamples(labels: np.ndarray, cell: str) -> list[np.ndarray]:
    """The cell's stratified resamples (image positions), drawn with its generator, as analyze draws."""
    from benchmark.seeding import item_rng
    from benchmark.stats.intervals import stratified_bootstrap_weights

    counts = stratified_bootstrap_weights(labels, 300, item_rng(0, "bootstrap", cell)).astype(int)
    return [np.repeat(np.arange(labels.size), row) for row in counts]


def _leave_one_out(labels: np.ndarray) -> list[np.ndarray]:
    return [np.delete(np.arange(labels.size), i) for i in range(labels.size)]


def _wide(predictions: pd.DataFrame, cell: str) -> pd.DataFrame:
    return predictions[predictions["cell"] == cell].pivot(index="image_id", columns="variant", values="prob")


def _labels(predictions: pd.DataFrame, cell: str) -> pd.Series:
    rows = predictions[(predictions["cell"] == cell) & (predictions["variant"] == "HR")]
    return rows.set_index("image_id")["label"].sort_index()


def test_analyze_returns_exactly_the_documented_columns(tables):
    assert list(tables) == list(TABLE_COLUMNS)
    assert list(tables) == [
        "quality",
        "classification",
        "confusion",
        "paired_tests",
        "flips",
        "flipped_images",
        "power",
        "non_inferiority",
    ]
    for name, columns in TABLE_COLUMNS.items():
        assert list(tables[name].columns) == columns, name
    assert TABLE_COLUMNS["classification"][:5] == [
        "cell",
        "variant",
        "metric",
        "threshold",
        "threshold_value",
    ]
    assert {
        "only_variant_correct",
        "only_reference_correct",
        "effect_size",
        "p_adjusted_bh",
        "method",
    } <= set(TABLE_COLUMNS["paired_tests"])


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
        ("mcnemar", "sensitivity"): 12,
        ("mcnemar", "specificity"): 12,
        ("mcnemar-midp", "accuracy"): 12,
        ("mcnemar-midp", "sensitivity"): 12,
        ("mcnemar-midp", "specificity"): 12,
        ("delong", "auroc"): 12,
        ("bootstrap", "accuracy"): 12,
        ("bootstrap", "sensitivity"): 12,
        ("bootstrap", "specificity"): 12,
        ("bootstrap", "brier"): 12,
        ("bootstrap", "auroc"): 12,
        ("wilcoxon", "prob"): 12,
        ("wilcoxon", "psnr"): 6,
        ("wilcoxon", "ssim"): 6,
    }


def _youden(labels: np.ndarray, probs: np.ndarray) -> float:
    """Brute force: the observed score maximising sensitivity + specificity - 1 (ties: the highest)."""
    candidates = np.unique(probs)
    j = [np.mean(probs[labels == 1] >= t) + np.mean(probs[labels == 0] < t) - 1 for t in candidates]
    return float(candidates[np.flatnonzero(np.isclose(j, max(j), rtol=0, atol=1e-12)).max()])


def test_classification_estimates_match_scikit_learn_at_both_thresholds(tables):
    predictions = make_predictions()
    table = tables["classification"].set_index(["cell", "variant", "metric", "threshold"])
    for cell in ("x2", "x4"):
        labels = _labels(predictions, cell).to_numpy()
        wide = _wide(predictions, cell)
        youden = _youden(labels, wide["HR"].to_numpy())
        for variant, probs in wide.items():
            expected = {
                "auroc": skm.roc_auc_score(labels, probs),
                "auprc": skm.average_precision_score(labels, probs),
                "log_loss": skm.log_loss(labels, probs),
                "brier": skm.brier_score_loss(labels, probs),
            }
            for metric, value in expected.items():
                assert table.loc[(cell, variant, metric, ""), "estimate"] == pytest.approx(value, rel=1e-12)
            for name, threshold in (("0.5", 0.5), ("youden-hr", youden)):
                predicted = (probs.to_numpy() >= threshold).astype(int)
                expected = {
                    "accuracy": skm.accuracy_score(labels, predicted),
                    "sensitivity": skm.recall_score(labels, predicted),
                    "specificity": skm.recall_score(labels, predicted, pos_label=0),
                    "ppv": skm.precision_score(labels, predicted, zero_division=np.nan),
                    "npv": skm.precision_score(labels, predicted, pos_label=0, zero_division=np.nan),
                    "f1": skm.f1_score(labels, predicted),
                }
                for metric, value in expected.items():
                    row = table.loc[(cell, variant, metric, name)]
                    assert row["threshold_value"] == threshold
                    assert row["estimate"] == pytest.approx(value, rel=1e-12, nan_ok=True)


def test_confusion_table_matches_scikit_learn_and_the_youden_threshold_is_hrs(tables):
    predictions = make_predictions()
    confusion = tables["confusion"].set_index(["cell", "variant", "threshold"])
    for cell in ("x2", "x4"):
        labels = _labels(predictions, cell).to_numpy()
        wide = _wide(predictions, cell)
        youden = _youden(labels, wide["HR"].to_numpy())
        for variant, probs in wide.items():
            for name, threshold in (("0.5", 0.5), ("youden-hr", youden)):
                tn, fp, fn, tp = skm.confusion_matrix(labels, probs.to_numpy() >= threshold).ravel()
                row = confusion.loc[(cell, variant, name)]
                assert (row["tp"], row["fp"], row["tn"], row["fn"]) == (tp, fp, tn, fn)
                assert row["threshold_value"] == threshold


def test_proportion_intervals_are_statsmodels_wilson_intervals(tables):
    from statsmodels.stats.proportion import proportion_confint

    predictions = make_predictions()
    labels = _labels(predictions, "x4").to_numpy()
    called = _wide(predictions, "x4")["edsr"].to_numpy() >= 0.5
    table = tables["classification"].set_index(["cell", "variant", "metric", "threshold"])
    for metric, hits, n in (
        ("sensitivity", np.sum(called & (labels == 1)), np.sum(labels == 1)),
        ("accuracy", np.sum(called == labels), labels.size),
        ("ppv", np.sum(called & (labels == 1)), np.sum(called)),
    ):
        row = table.loc[("x4", "edsr", metric, "0.5")]
        expected = proportion_confint(hits, n, alpha=0.05, method="wilson")
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected, rel=1e-12)


def test_classification_intervals_are_stratified_bootstrap_percentiles(percentile_tables):
    """With bootstrap_ci "percentile" the interval of a metric is the percentile interval of the metric
    recomputed (by scikit-learn) on stratified resamples drawn with the cell's generator."""
    predictions = make_predictions()
    labels = _labels(predictions, "x4").to_numpy()
    probs = _wide(predictions, "x4")["edsr"].to_numpy()
    resamples = _resamples(labels, "x4")
    assert all(labels[r].sum() == labels.sum() for r in resamples)  # class sizes kept
    table = percentile_tables["classification"].set_index(["cell", "variant", "metric", "threshold"])
    for metric, score in (("auroc", skm.roc_auc_score), ("brier", skm.brier_score_loss)):
        expected = np.quantile([score(labels[r], probs[r]) for r in resamples], [0.025, 0.975])
        row = table.loc[("x4", "edsr", metric, "")]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected, rel=1e-12)
    f1 = [skm.f1_score(labels[r], probs[r] >= 0.5) for r in resamples]
    row = table.loc[("x4", "edsr", "f1", "0.5")]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(np.quantile(f1, [0.025, 0.975]))
    methods = percentile_tables["classification"].set_index("metric")["ci_method"]
    assert set(methods.loc[["f1", "auroc", "brier", "ece", "ece_debiased"]]) == {
        "stratified-bootstrap-percentile"
    }
    assert set(methods.loc[["accuracy", "sensitivity", "specificity", "ppv", "npv"]]) == {"wilson"}
    sensitivity = percentile_tables["classification"].loc[lambda t: t["metric"] == "sensitivity", "n"]
    assert set(sensitivity) == {N_IMAGES // 2}


def test_classification_intervals_are_bca_of_scikit_learn_replicates_and_jackknife(tables):
    """By default (BCa) the interval is the BCa interval of the same scikit-learn replicates with the
    acceleration from scikit-learn's leave-one-image-out values."""
    from benchmark.stats.intervals import bca_interval

    predictions = make_predictions()
    labels = _labels(predictions, "x4").to_numpy()
    probs = _wide(predictions, "x4")["edsr"].to_numpy()
    table = tables["classification"].set_index(["cell", "variant", "metric", "threshold"])
    for metric, score in (("auroc", skm.roc_auc_score), ("brier", skm.brier_score_loss)):
        replicates = [score(labels[r], probs[r]) for r in _resamples(labels, "x4")]
        jackknife = [score(labels[r], probs[r]) for r in _leave_one_out(labels)]
        expected = bca_interval(np.array(replicates), score(labels, probs), np.array(jackknife))
        row = table.loc[("x4", "edsr", metric, "")]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected, rel=1e-12)
        assert row["ci_method"] == "stratified-bootstrap-bca"
        percentile = np.quantile(replicates, [0.025, 0.975])
        assert (row["ci_low"], row["ci_high"]) != pytest.approx(percentile, rel=1e-6)  # BCa moved it
    methods = tables["classification"].set_index("metric")["ci_method"]
    assert set(methods.loc[["f1", "auroc", "brier", "ece", "ece_debiased"]]) == {"stratified-bootstrap-bca"}


def test_bootstrap_intervals_bracket_the_estimate(tables):
    rows = tables["classification"]
    smooth = rows[rows["metric"].isin(["log_loss", "brier", "auroc", "auprc"])]
    assert ((smooth["ci_low"] < smooth["estimate"]) & (smooth["estimate"] < smooth["ci_high"])).all()


def test_mcnemar_and_wilcoxon_rows_match_scipy_on_the_aligned_images(tables):
    predictions = make_predictions()
    tests = tables["paired_tests"].set_index(["cell", "variant", "reference", "test", "metric"])
    labels = _labels(predictions, "x4").to_numpy()
    wide = _wide(predictions, "x4")
    correct_v = (wide["edsr"].to_numpy() >= 0.5) == labels
    correct_r = (wide["LR"].to_numpy() >= 0.5) == labels
    b, c = int(np.sum(correct_v & ~correct_r)), int(np.sum(~correct_v & correct_r))
    mcnemar = tests.loc[("x4", "edsr", "LR", "mcnemar", "accuracy")]
    assert b + c < 25 and mcnemar["method"] == "exact-binomial"
    assert mcnemar["p_value"] == pytest.approx(stats.binomtest(min(b, c), b + c).pvalue if b + c else 1.0)
    assert (mcnemar["only_variant_correct"], mcnemar["only_reference_correct"]) == (b, c)
    assert mcnemar["difference"] == pytest.approx(correct_v.mean() - correct_r.mean())
    wilcoxon = tests.loc[("x4", "edsr", "LR", "wilcoxon", "prob")]
    expected = stats.wilcoxon(wide["edsr"], wide["LR"], zero_method="pratt")
    assert wilcoxon["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert wilcoxon["difference"] == pytest.approx(np.median(wide["edsr"] - wide["LR"]))
    assert -1 <= wilcoxon["effect_size"] <= 1 and wilcoxon["method"] == "pratt"


def _sensitivity_differences(labels, wide, positions: list[np.ndarray]) -> np.ndarray:
    return np.array(
        [
            skm.recall_score(labels[r], wide["srcnn"].to_numpy()[r] >= 0.5)
            - skm.recall_score(labels[r], wide["HR"].to_numpy()[r] >= 0.5)
            for r in positions
        ]
    )


def test_paired_bootstrap_differences_are_resampled_jointly(tables, percentile_tables):
    """Sensitivity difference CI = percentile (or BCa) interval of scikit-learn's per-resample
    differences; the BCa p-value is where the BCa interval reaches 0."""
    from benchmark.stats.intervals import bca_interval, bca_p_value

    predictions = make_predictions()
    labels = _labels(predictions, "x2").to_numpy()
    wide = _wide(predictions, "x2")
    differences = _sensitivity_differences(labels, wide, _resamples(labels, "x2"))
    key = ("x2", "srcnn", "HR", "bootstrap", "sensitivity")
    row = (
        percentile_tables["paired_tests"]
        .set_index(["cell", "variant", "reference", "test", "metric"])
        .loc[key]
    )
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(np.quantile(differences, [0.025, 0.975]))
    assert row["threshold"] == "0.5" and row["method"] == "stratified-bootstrap-percentile"
    row = tables["paired_tests"].set_index(["cell", "variant", "reference", "test", "metric"]).loc[key]
    jackknife = _sensitivity_differences(labels, wide, _leave_one_out(labels))
    estimate = _sensitivity_differences(labels, wide, [np.arange(labels.size)])[0]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(bca_interval(differences, estimate, jackknife))
    assert row["method"] == "stratified-bootstrap-bca"
    assert row["p_value"] == pytest.approx(bca_p_value(differences, estimate, jackknife))


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


def test_p_adjusted_is_holm_and_bh_within_each_prespecified_family(tables):
    tests = tables["paired_tests"]
    primary = tests[tests["family"] == "primary"]
    # primary: the one analytic test of each primary endpoint, every variant against HR, per cell
    assert set(map(tuple, primary[["test", "metric"]].to_numpy())) == {
        ("mcnemar", "accuracy"),
        ("mcnemar", "sensitivity"),
        ("mcnemar", "specificity"),
        ("delong", "auroc"),
    }
    assert (primary["reference"] == "HR").all()
    assert set(tests.loc[tests["family"] == "exploratory", "reference"]) == {"LR", "srcnn"}
    keys = {
        "primary": ["cell"],
        "exploratory": ["cell"],
        "supplementary": ["cell", "test", "metric", tests["reference"] == "HR"],
    }
    for family, by in keys.items():
        rows = tests[tests["family"] == family]
        grouper = [rows[k] if isinstance(k, str) else k[rows.index] for k in by]
        for _, group in rows.groupby(grouper):
            p = group["p_value"].to_numpy()
            np.testing.assert_allclose(group["p_adjusted"], multipletests(p, method="holm")[1], rtol=1e-12)
            np.testing.assert_allclose(
                group["p_adjusted_bh"], multipletests(p, method="fdr_bh")[1], rtol=1e-12
            )
            assert (group["family_size"] == len(group)).all()
    assert (primary["family_size"] == 4 * 3).all()  # 4 endpoints x 3 variants against HR
    # Holm controls the family-wise error, so it never adjusts less than BH (up to rounding).
    assert (tests["p_adjusted"] >= tests["p_adjusted_bh"] * (1 - 1e-12)).all()
    assert (tests["p_adjusted_bh"] >= tests["p_value"]).all()


def test_primary_family_counts_only_tests_against_hr_and_can_span_cells():
    predictions = make_predictions(cells=("x2",))
    fewer = predictions[predictions["variant"] != "edsr"]
    tests = analyze(
        pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"]), fewer, n_bootstrap=100
    )
    tests = tests["paired_tests"]
    assert (tests.loc[tests["family"] == "primary", "family_size"] == 4 * 2).all()
    across = analyze(
        pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"]),
        make_predictions(),
        n_bootstrap=100,
        correct_across_cells=True,
    )["paired_tests"]
    assert (across.loc[across["family"] == "primary", "family_size"] == 2 * 4 * 3).all()


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
        harmful = row["n_flips"] - row["wrong_to_correct"]
        assert flips.loc[key, "harmful_rate"] == pytest.approx(harmful / N_IMAGES)
    images = tables["flipped_images"]
    assert len(images) == flips["n_flips"].sum() == len(flipped)
    assert (images["pred_hr"] != images["pred_variant"]).all()


def test_quality_summary_skips_infinite_psnr_and_uses_expanded_bootstrap_intervals():
    quality = make_quality(cells=("x2",))
    first = quality.index[(quality["metric"] == "psnr") & (quality["variant"] == "LR")][0]
    quality.loc[first, "value"] = np.inf
    tables = analyze(quality, make_predictions(cells=("x2",)), n_bootstrap=100)
    table = tables["quality"]
    row = table.set_index(["variant", "metric"]).loc[("LR", "psnr")]
    finite = quality.loc[(quality["metric"] == "psnr") & (quality["variant"] == "LR"), "value"].iloc[1:]
    assert row["n"] == N_IMAGES - 1
    assert row["mean"] == pytest.approx(finite.mean()) and row["median"] == pytest.approx(finite.median())
    assert row["std"] == pytest.approx(finite.std())
    # near symmetric values: the expanded percentile interval is about the t-interval (statsmodels)
    t_low, t_high = DescrStatsW(finite.to_numpy()).tconfint_mean()
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((t_low, t_high), abs=0.15 * (t_high - t_low))
    assert row["ci_method"] == "bootstrap-expanded-percentile"
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
    for name in ("classification", "paired_tests", "quality"):
        both = tables[name][tables[name]["cell"] == "x4"].reset_index(drop=True)
        pd.testing.assert_frame_equal(both, alone[name])
    other = analyze(quality, predictions, n_bootstrap=300, seed=1)["classification"]
    assert not np.allclose(other["ci_low"], alone["classification"]["ci_low"])


def test_empty_quality_gives_an_empty_quality_table():
    tables = analyze(make_quality().iloc[:0], make_predictions(cells=("x2",)), n_bootstrap=100)
    assert tables["quality"].empty and list(tables["quality"].columns)[-1] == "ci_method"
    assert set(tables["paired_tests"]["metric"]) == {
        "accuracy",
        "sensitivity",
        "specificity",
        "brier",
        "auroc",
        "prob",
    }


def test_quality_alone_still_gives_summaries_and_quality_tests():
    tables = analyze(make_quality(cells=("x2",)), make_predictions().iloc[:0], n_bootstrap=100)
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


def test_quality_intervals_of_bounded_metrics_stay_in_range_and_ignore_the_predictions():
    ids = [f"img{i:03d}" for i in range(N_IMAGES)]
    # Grad-CAM maps mostly unchanged (r = 1 for identical maps), three images whose evidence moved
    pearson = np.r_[[1.0] * 30, np.linspace(0.95, 0.995, 7), [0.3, 0.25, 0.2]]
    quality = pd.DataFrame(
        {"cell": "x2", "variant": "srcnn", "image_id": ids, "metric": "gradcam_pearson", "value": pearson}
    )
    t_high = DescrStatsW(pearson).tconfint_mean()[1]
    tables = analyze(quality, make_predictions(cells=("x2",)), n_bootstrap=2000, seed=3)
    row = tables["quality"].iloc[0]
    assert row["ci_low"] < pearson.mean() < row["ci_high"] <= 1.0 < t_high
    alone = analyze(quality, make_predictions().iloc[:0], n_bootstrap=2000, seed=3)["quality"]
    pd.testing.assert_frame_equal(tables["quality"], alone)
