"""Clustered (patient) statistics against statsmodels, the unclustered methods and simulation."""

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from benchmark.stats import clustered, paired


def test_clustered_mcnemar_with_one_image_per_patient_is_the_uncorrected_mcnemar():
    rng = np.random.default_rng(0)
    variant, reference = rng.random(80) < 0.7, rng.random(80) < 0.6
    result = clustered.clustered_mcnemar(variant, reference, np.arange(80))
    b, c = int(np.sum(variant & ~reference)), int(np.sum(~variant & reference))
    expected = mcnemar([[0, b], [c, 0]], exact=False, correction=False)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-12)


def test_clustered_mcnemar_follows_durkalskis_formula_by_hand():
    # patient A: 2 only-variant, 0 only-reference; B: 1 and 1; C: 0 and 1 -> sum(b-c) = 1,
    # sum (b-c)^2 = 4 + 0 + 1 = 5, X^2 = 1/5
    variant = np.array([1, 1, 1, 0, 0, 1], bool)
    reference = np.array([0, 0, 0, 1, 1, 1], bool)
    clusters = np.array(["A", "A", "B", "B", "C", "C"])
    result = clustered.clustered_mcnemar(variant, reference, clusters)
    assert result.statistic == pytest.approx(1 / 5)
    assert clustered.clustered_mcnemar(variant, variant, clusters).p_value == 1.0


def test_obuchowski_with_one_image_per_patient_is_delong():
    rng = np.random.default_rng(2)
    labels = np.r_[np.ones(25), np.zeros(30)].astype(int)
    scores = rng.random((3, 55)) + 0.4 * labels
    aucs, covariance = clustered.clustered_auroc_covariance(labels, scores, np.arange(55))
    aucs_d, covariance_d = paired.delong_covariance(labels, scores)
    np.testing.assert_allclose(aucs, aucs_d, rtol=1e-12)
    np.testing.assert_allclose(covariance, covariance_d, rtol=1e-10, atol=1e-15)


def _clustered_sample(rng, patients=40):
    sizes = rng.integers(1, 6, patients)
    clusters = np.repeat(np.arange(patients), sizes)
    patient_label = rng.random(patients) < 0.5
    labels = patient_label[clusters].astype(int)
    labels[:2] = [0, 1]  # both classes always present
    effect = rng.normal(0, 1, patients)[clusters]
    base = labels * 1.0 + effect
    scores = np.stack([base + rng.normal(0, 0.7, labels.size), base + rng.normal(0, 0.7, labels.size)])
    return labels, scores, clusters


def test_obuchowski_variance_matches_the_simulated_variance_where_delong_underestimates():
    rng = np.random.default_rng(3)
    aucs_seen, obuchowski, delong = [], [], []
    for _ in range(1500):
        labels, scores, clusters = _clustered_sample(rng)
        aucs, cov = clustered.clustered_auroc_covariance(labels, scores, clusters)
        _, cov_d = paired.delong_covariance(labels, scores)
        aucs_seen.append(aucs)
        contrast = np.array([1.0, -1.0])
        obuchowski.append([cov[0, 0], contrast @ cov @ contrast])
        delong.append([cov_d[0, 0], contrast @ cov_d @ contrast])
    aucs_seen = np.array(aucs_seen)
    simulated = np.array([np.var(aucs_seen[:, 0], ddof=1), np.var(aucs_seen[:, 0] - aucs_seen[:, 1], ddof=1)])
    # one AUROC and the difference of two: Obuchowski's mean variance is the simulated variance,
    # DeLong's (images independent) is well below it
    np.testing.assert_allclose(np.mean(obuchowski, axis=0), simulated, rtol=0.2)
    assert np.mean(delong, axis=0)[0] < 0.75 * simulated[0]


def test_cluster_bootstrap_keeps_patients_whole_and_strata_sizes():
    rng = np.random.default_rng(4)
    labels = np.r_[np.zeros(9), np.ones(12)].astype(int)
    clusters = np.r_[np.repeat([0, 1, 2], 3), np.repeat([3, 4, 5, 6], 3)]
    weights = clustered.cluster_bootstrap_weights(labels, clusters, 200, rng)
    for patient in np.unique(clusters):
        columns = weights[:, clusters == patient]
        assert (columns == columns[:, :1]).all()  # every image weighs as its patient was drawn
    assert (weights[:, labels == 0].sum(axis=1) == 9).all()  # 3 normal patients of 3 images drawn
    assert (weights[:, labels == 1].sum(axis=1) == 12).all()


def test_one_patient_of_a_class_gives_nan_not_a_variance_from_nothing():
    labels = np.r_[np.ones(5), np.zeros(6)].astype(int)
    clusters = np.r_[np.zeros(5), np.arange(1, 7)]  # all pneumonia images from one patient
    scores = np.vstack([np.linspace(0, 1, 11), np.linspace(0, 1, 11) ** 2])
    _, covariance = clustered.clustered_auroc_covariance(labels, scores, clusters)
    assert np.isnan(covariance).all()
    from benchmark.stats.proportions import design_effect

    assert np.isnan(design_effect(np.r_[1.0, 0, 1, 1], np.zeros(4)))
    # every value equal: the largest design effect clustering allows (images as copies), n / G
    assert design_effect(np.ones(6), np.array([0, 0, 0, 1, 1, 2])) == 2.0


def _analysis_inputs(labels, scores, clusters):
    """(empty IQ table, HR and one variant's predictions, image -> patient) of a clustered sample."""
    import pandas as pd

    probs = 1 / (1 + np.exp(-scores))
    rows = [
        {"cell": "c", "variant": v, "image_id": f"i{i}", "label": int(labels[i]), "prob": float(probs[k, i])}
        for k, v in enumerate(("HR", "sr"))
        for i in range(labels.size)
    ]
    patients = {f"i{i}": f"p{clusters[i]}" for i in range(labels.size)}
    empty = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])
    return empty, pd.DataFrame(rows), patients


def test_analyze_with_patients_says_cluster_in_every_interval_and_test_method():

    from benchmark.stats.analysis import analyze

    rng = np.random.default_rng(6)
    labels, scores, clusters = _clustered_sample(rng)
    empty, predictions, patients = _analysis_inputs(labels, scores, clusters)
    tables = analyze(empty, predictions, n_bootstrap=200, clusters=patients, margins={"auroc": 0.05})
    assert tables["classification"]["ci_method"].str.contains("cluster").all()
    primary = tables["paired_tests"].query("family == 'primary'")
    assert set(primary["method"]) <= {
        "cluster-durkalski",
        "cluster-exact-binomial",
        "cluster-chi2-continuity",
        "cluster-obuchowski",
    }
    assert "cluster-obuchowski" in set(primary["method"])
    assert tables["non_inferiority"]["method"].iloc[0] == "cluster-obuchowski"
    # patients missing for an image: an error naming the fix
    from cxr_kernel.errors import UserError

    with pytest.raises(UserError, match="patient_id"):
        analyze(empty, predictions, n_bootstrap=200, clusters={"i0": "p0"})


def test_clustered_mcnemar_row_uses_mcnemars_exact_test_when_no_patient_holds_two_discordant_images():
    import pandas as pd

    from benchmark.stats.analysis import analyze

    labels = np.r_[np.zeros(10), np.ones(10)].astype(int)
    hr = np.where(labels == 1, 0.8, 0.2)
    sr = hr.copy()
    sr[[0, 12]] = 1 - sr[[0, 12]]  # two discordant images, from different patients
    clusters = {f"i{i}": f"p{i // 2}" for i in range(20)}
    rows = [
        {"cell": "c", "variant": v, "image_id": f"i{i}", "label": int(labels[i]), "prob": float(p[i])}
        for v, p in (("HR", hr), ("sr", sr))
        for i in range(20)
    ]
    empty = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])
    tests = analyze(empty, pd.DataFrame(rows), n_bootstrap=100, clusters=clusters)["paired_tests"]
    row = tests.set_index(["test", "metric"]).loc[("mcnemar", "accuracy")]
    assert row["method"] == "cluster-exact-binomial"
    assert row["p_value"] == pytest.approx(
        mcnemar([[0, 0], [2, 0]], exact=True).pvalue
    )  # 0.5, not chi2's 0.16


def test_clustered_flip_rates_get_design_effect_wilson_intervals():
    import pandas as pd
    from statsmodels.stats.proportion import proportion_confint

    from benchmark.stats.analysis import analyze
    from benchmark.stats.proportions import design_effect

    labels = np.r_[np.zeros(12), np.ones(12)].astype(int)
    hr = np.where(labels == 1, 0.8, 0.2)
    sr = hr.copy()
    sr[[0, 1, 2, 12]] = 1 - sr[[0, 1, 2, 12]]  # three flips in patient p0, one in p4
    patients = np.arange(24) // 3
    rows = [
        {"cell": "c", "variant": v, "image_id": f"i{i}", "label": int(labels[i]), "prob": float(p[i])}
        for v, p in (("HR", hr), ("sr", sr))
        for i in range(24)
    ]
    empty = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])
    clusters = {f"i{i}": f"p{patients[i]}" for i in range(24)}
    flips = analyze(empty, pd.DataFrame(rows), n_bootstrap=100, clusters=clusters)["flips"].iloc[0]
    indicator = np.isin(np.arange(24), [0, 1, 2, 12]).astype(float)
    deff = design_effect(indicator, patients)
    assert deff > 1
    expected = proportion_confint(4 / deff, 24 / deff, alpha=0.05, method="wilson")
    assert (flips["flip_rate_ci_low"], flips["flip_rate_ci_high"]) == pytest.approx(expected, rel=1e-12)


def test_cluster_bootstrap_rows_warn_when_a_class_has_few_patients():

    from benchmark.stats.analysis import analyze

    rng = np.random.default_rng(8)
    labels, scores, clusters = _clustered_sample(rng, patients=12)
    empty, predictions, patients = _analysis_inputs(labels, scores, clusters)
    table = analyze(empty, predictions, n_bootstrap=100, clusters=patients)["classification"]
    auroc = table[(table["metric"] == "auroc") & (table["variant"] == "HR")].iloc[0]
    assert "undercovers" in auroc["note"]


def _obuchowski_by_loops(labels, first, second, clusters):
    """Obuchowski (1997) written out with explicit loops over clusters and pairs (psi kernel), as in
    the paper and the iMRMC package's doAUCcluster: the covariance of two AUROCs."""

    def psi(x, y):
        return 1.0 if x > y else 0.5 if x == y else 0.0

    ids = list(dict.fromkeys(clusters))
    positives, negatives = labels == 1, labels == 0
    big_m, big_n = positives.sum(), negatives.sum()
    out = []
    for scores in (first, second):
        auc = np.mean([psi(x, y) for x in scores[positives] for y in scores[negatives]])
        v10, v01 = [], []
        for c in ids:
            here = clusters == c
            v10.append(sum(np.mean([psi(x, y) for y in scores[negatives]]) for x in scores[here & positives]))
            v01.append(sum(np.mean([psi(x, y) for x in scores[positives]]) for y in scores[here & negatives]))
        m = np.array([np.sum((clusters == c) & positives) for c in ids])
        n = np.array([np.sum((clusters == c) & negatives) for c in ids])
        out.append((auc, np.array(v10) - m * auc, np.array(v01) - n * auc))
    i10 = sum(1 for c in ids if np.any((clusters == c) & positives))
    i01 = sum(1 for c in ids if np.any((clusters == c) & negatives))
    big_i = len(ids)

    def cov(a, b):
        s10 = i10 / ((i10 - 1) * big_m) * np.sum(a[1] * b[1])
        s01 = i01 / ((i01 - 1) * big_n) * np.sum(a[2] * b[2])
        s11_ab = big_i / (big_i - 1) * np.sum(a[1] * b[2])
        s11_ba = big_i / (big_i - 1) * np.sum(b[1] * a[2])
        return s10 / big_m + s01 / big_n + (s11_ab + s11_ba) / (big_m * big_n)

    return [out[0][0], out[1][0]], np.array([[cov(x, y) for y in out] for x in out])


def test_obuchowski_equals_the_papers_formula_written_out_with_loops():
    rng = np.random.default_rng(9)
    labels, scores, clusters = _clustered_sample(rng, patients=12)
    scores = np.round(scores, 1)  # ties, which the kernel counts one half
    aucs, covariance = clustered.clustered_auroc_covariance(labels, scores, clusters)
    expected_aucs, expected = _obuchowski_by_loops(labels, scores[0], scores[1], clusters)
    np.testing.assert_allclose(aucs, expected_aucs, rtol=1e-12)
    np.testing.assert_allclose(covariance, expected, rtol=1e-10)


def test_clustered_bca_takes_its_acceleration_from_the_leave_one_patient_out_jackknife():
    """A clustered AUROC interval is the BCa interval of scikit-learn's AUROC on the patient-bootstrap
    resamples, accelerated by scikit-learn's AUROC with each patient left out in turn."""
    from sklearn.metrics import roc_auc_score

    from benchmark.seeding import item_rng
    from benchmark.stats.analysis import analyze
    from benchmark.stats.intervals import bca_interval

    rng = np.random.default_rng(8)
    labels, scores, clusters = _clustered_sample(rng)
    empty, predictions, patients = _analysis_inputs(labels, scores, clusters)
    tables = analyze(empty, predictions, n_bootstrap=200, clusters=patients)
    row = tables["classification"].set_index(["variant", "metric"]).loc[("sr", "auroc")]
    order = np.argsort([f"i{i}" for i in range(labels.size)])  # analyze aligns images by sorted id
    labels, probs = labels[order], 1 / (1 + np.exp(-scores[1][order]))
    image_patients = np.array([f"p{c}" for c in clusters[order]], dtype=object)
    counts = clustered.cluster_bootstrap_weights(labels, image_patients, 200, item_rng(0, "bootstrap", "c"))
    replicates = [roc_auc_score(labels, probs, sample_weight=row_) for row_ in counts]
    jackknife = [
        roc_auc_score(labels[image_patients != p], probs[image_patients != p])
        for p in dict.fromkeys(image_patients)
    ]
    expected = bca_interval(np.array(replicates), roc_auc_score(labels, probs), np.array(jackknife))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected, rel=1e-10)
    assert row["ci_method"] == "cluster-bootstrap-bca"
