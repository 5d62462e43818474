"""Paired-test and non-inferiority rows of one cell (``CellAnalysis``), one test per hypothesis.

Primary-endpoint tests (analytic, so no bootstrap p-value floor): McNemar for accuracy, and for
sensitivity and specificity on the pneumonia and the normal images alone, each with Newcombe's paired
score interval of the difference; DeLong for AUROC.  When the unit of analysis is the patient they are
Durkalski et al.'s clustered McNemar (``method`` "cluster-durkalski"; McNemar's own test,
"cluster-exact-binomial" or "cluster-chi2-continuity", when no patient holds two discordant images),
Newcombe on Rao-Scott effective counts, and Obuchowski's clustered AUROC comparison
("cluster-obuchowski").  Supplementary tests (paired bootstrap, Wilcoxon, McNemar mid-p) restate
hypotheses a primary test already answers; ``analysis`` puts them in families of their own.

A paired test's row builder is registered in ``ROW_BUILDERS`` by ``@_paired_test(name)``, ``name`` one of
``vocabulary.PAIRED_TESTS``; ``paired_rows`` calls each in the table's order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

from benchmark.metrics.classification import THRESHOLD_METRICS
from benchmark.stats import clustered, intervals, noninferiority, paired, power, proportions
from benchmark.stats.cell import (
    WILCOXON_ZERO_METHOD,
    CellAnalysis,
    Threshold,
    score_metric,
    threshold_estimates,
)
from benchmark.stats.flips import predicted_labels
from benchmark.stats.inputs import REFERENCE
from benchmark.stats.vocabulary import PAIRED_TESTS, TESTS_BY_NAME
from cxr_kernel.registry import Registry

P_FLOOR_NOTE = "p at the bootstrap floor 2/(B+1)"
RowBuilder = Callable[[CellAnalysis, dict, tuple, str, str], list]
# Paired test name -> its rows for (analysis, base row, metrics, variant, reference) (``_paired_test``).
ROW_BUILDERS = Registry("paired test", {})
SINGLE_DISCORDANT = "at most one discordant image per patient"


def _subset(analysis: CellAnalysis, metric: str) -> np.ndarray:
    labels = analysis.data.labels
    return {"sensitivity": labels == 1, "specificity": labels == 0}.get(metric, np.ones(labels.size, bool))


def paired_table(analysis: CellAnalysis, correct_v: np.ndarray, correct_r: np.ndarray) -> tuple[int, ...]:
    """(both right, only the variant, only the reference, neither) image counts."""
    return (
        int(np.sum(correct_v & correct_r)),
        int(np.sum(correct_v & ~correct_r)),
        int(np.sum(~correct_v & correct_r)),
        int(np.sum(~correct_v & ~correct_r)),
    )


def _correct(analysis: CellAnalysis, variant: str) -> np.ndarray:
    return predicted_labels(analysis.data.probs[variant], analysis.fixed.value) == analysis.data.labels


def mcnemar_row(analysis: CellAnalysis, base: dict, metric: str, variant: str, reference: str) -> dict:
    """McNemar (clustered: Durkalski) test of ``metric`` with Newcombe's interval of the difference."""
    members = _subset(analysis, metric)
    correct_v, correct_r = _correct(analysis, variant)[members], _correct(analysis, reference)[members]
    table = paired_table(analysis, correct_v, correct_r)
    deff = (
        1.0
        if analysis.clusters is None
        else proportions.design_effect(
            correct_v.astype(float) - correct_r.astype(float), analysis.clusters[members]
        )
    )
    ci = proportions.newcombe_paired_interval(*table, confidence=analysis.confidence, deff=deff)
    if analysis.clusters is None:
        result = paired.mcnemar_test(correct_v, correct_r)
        method, note = result.method, result.note
        statistic, p_value = result.statistic, result.p_value
    elif clustered.max_discordant_per_cluster(correct_v, correct_r, analysis.clusters[members]) <= 1:
        # No patient holds two discordant images, so the discordant pairs are independent and McNemar's
        # own test (exact below 25) is valid for patients; Durkalski's chi-square would equal its
        # uncorrected, large-sample form and overstate small differences.
        result = paired.mcnemar_test(correct_v, correct_r)
        method = f"cluster-{result.method}"
        single = SINGLE_DISCORDANT if table[1] + table[2] else ""
        note = "; ".join(filter(None, [result.note, single]))
        statistic, p_value = result.statistic, result.p_value
    else:
        result = clustered.clustered_mcnemar(correct_v, correct_r, analysis.clusters[members])
        method, note = "cluster-durkalski", result.note
        statistic, p_value = result.statistic, result.p_value
    n = int(members.sum())
    return paired_row(
        {**base, "n": n},
        "mcnemar",
        metric,
        (table[0] + table[1]) / n,
        (table[0] + table[2]) / n,
        ci,
        paired.PairedResult(statistic, p_value, note, method),
        threshold=analysis.fixed,
        discordant=(table[1], table[2]),
    )


def auroc_row(analysis: CellAnalysis, base: dict, variant: str, reference: str) -> dict:
    """DeLong (clustered: Obuchowski) z-test of AUROC(variant) - AUROC(reference), Wald interval."""
    labels = analysis.data.labels
    scores = np.stack([analysis.data.probs[variant], analysis.data.probs[reference]])
    if analysis.clusters is None:
        aucs, covariance = paired.delong_covariance(labels, scores)
        method = "delong-wald"
    else:
        aucs, covariance = clustered.clustered_auroc_covariance(labels, scores, analysis.clusters)
        method = "cluster-obuchowski"
    difference = float(aucs[0] - aucs[1])
    variance = float(covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1])
    scale = max(covariance[0, 0] + covariance[1, 1], 1e-300)
    if not np.isfinite(variance):
        nan = float("nan")
        note = "fewer than 2 patients of a class: the clustered AUROC variance is not estimable"
        result = paired.PairedResult(nan, nan, note, method)
        ci = (nan, nan)
    elif variance <= 1e-12 * scale:
        # Identical rankings (or constant scores): no variance to test against.  Equal AUROCs -> p = 1
        # exactly; unequal ones cannot happen with zero variance except through constant scores, and
        # then the test has nothing to say: NaN, never p = 0.
        p_value = 1.0 if difference == 0 else float("nan")
        result = paired.PairedResult(
            float("nan"),
            p_value,
            "zero variance of the AUROC difference (identical rankings or a constant score)",
            method,
        )
        ci = (float("nan"), float("nan"))
    else:
        standard_error = float(np.sqrt(variance))
        ci = intervals.normal_interval(difference, standard_error, confidence=analysis.confidence)
        statistic = difference / standard_error
        result = paired.PairedResult(float(statistic), float(2 * stats.norm.sf(abs(statistic))), "", method)
    return paired_row(base, "delong", "auroc", aucs[0], aucs[1], ci, result)


def _paired_test(name: str):
    """Registers the row builder of the paired test ``name`` of ``vocabulary.PAIRED_TESTS``."""

    def register(builder: RowBuilder) -> RowBuilder:
        if name not in TESTS_BY_NAME:
            raise KeyError(f"{name!r} is not in benchmark.stats.vocabulary.PAIRED_TESTS: add it there")
        ROW_BUILDERS.register(name, f"{builder.__module__}:{builder.__qualname__}")
        return builder

    return register


@_paired_test("mcnemar")
def _mcnemar_rows(analysis: CellAnalysis, base: dict, metrics, variant: str, reference: str) -> list[dict]:
    return [mcnemar_row(analysis, base, metric, variant, reference) for metric in metrics]


@_paired_test("delong")
def _delong_rows(analysis: CellAnalysis, base: dict, metrics, variant: str, reference: str) -> list[dict]:
    """DeLong compares AUROC only (its one metric)."""
    return [auroc_row(analysis, base, variant, reference)]


@_paired_test("bootstrap")
def _bootstrap_rows(analysis: CellAnalysis, base: dict, metrics, variant: str, reference: str) -> list[dict]:
    """Paired bootstrap of each metric: BCa (or percentile) interval of the differences, p by inverting it."""
    labels, fixed = analysis.data.labels, analysis.fixed
    probs_v, probs_r = analysis.data.probs[variant], analysis.data.probs[reference]
    floor = 2 / (analysis.weights.shape[0] + 1)
    rows = []
    for metric in metrics:
        key = fixed.name if metric in THRESHOLD_METRICS else ""
        if metric in THRESHOLD_METRICS:
            estimates = [threshold_estimates(labels, p, fixed.value)[metric] for p in (probs_v, probs_r)]
        else:
            estimates = [score_metric(metric, labels, p) for p in (probs_v, probs_r)]
        differences = analysis.replicates[variant, key, metric] - analysis.replicates[reference, key, metric]
        jackknife = analysis.jackknife[variant, key, metric] - analysis.jackknife[reference, key, metric]
        low, high, method, interval_note = analysis.bootstrap_interval(
            differences, estimates[0] - estimates[1], jackknife
        )
        result = paired.bootstrap_p_value(differences)
        p_value = result.p_value
        if method == analysis.bootstrap_method and analysis.interval == "bca":
            p_value = intervals.bca_p_value(differences, estimates[0] - estimates[1], jackknife)
        note = "; ".join(filter(None, [result.note, interval_note]))
        if p_value <= floor * (1 + 1e-9):
            note = "; ".join(filter(None, [note, f"{P_FLOOR_NOTE} = {floor:.3g}"]))
        rows.append(
            paired_row(
                base,
                "bootstrap",
                metric,
                *estimates,
                (low, high),
                paired.PairedResult(result.statistic, p_value, note, method),
                threshold=fixed if metric in THRESHOLD_METRICS else None,
            )
        )
    return rows


@_paired_test("wilcoxon")
def _wilcoxon_rows(analysis: CellAnalysis, base: dict, metrics, variant: str, reference: str) -> list[dict]:
    """Wilcoxon of the per-image P(pneumonia) (metric "prob"); clustered images treated as independent."""
    rows = []
    for metric in metrics:
        row = wilcoxon_row(
            base, metric, analysis.data.probs[variant], analysis.data.probs[reference], analysis.confidence
        )
        if analysis.clusters is not None:
            row["note"] = "; ".join(filter(None, [row["note"], "images treated as independent"]))
        rows.append(row)
    return rows


@_paired_test("mcnemar-midp")
def _mid_p_rows(analysis: CellAnalysis, base: dict, metrics, variant: str, reference: str) -> list[dict]:
    """McNemar's mid-p test of each metric on the McNemar row's discordant counts (same images, same
    Newcombe interval).  Clustered: valid only when no patient holds two discordant images (the pairs
    are then independent); otherwise no p-value, noted (the Durkalski row answers)."""
    rows = []
    for metric in metrics:
        row = mcnemar_row(analysis, base, metric, variant, reference)
        result = paired.mcnemar_mid_p(int(row["only_variant_correct"]), int(row["only_reference_correct"]))
        method, p_value, notes = result.method, result.p_value, [result.note]
        if analysis.clusters is not None:
            method = f"cluster-{method}"
            if row["method"] == "cluster-durkalski":
                p_value = float("nan")
                notes = ["a patient holds two discordant images: pairs not independent, see Durkalski's test"]
            elif result.note == "":
                notes.append(SINGLE_DISCORDANT)
        note = "; ".join(filter(None, notes))
        rows.append(
            {
                **row,
                "test": "mcnemar-midp",
                "method": method,
                "statistic": result.statistic,
                "p_value": p_value,
                "note": note,
            }
        )
    return rows


def paired_rows(analysis: CellAnalysis, variant: str, reference: str) -> list[dict]:
    """Every paired test of ``variant`` against ``reference`` in one cell, in the order of
    ``vocabulary.PAIRED_TESTS``, each of its metrics."""
    base = {"cell": analysis.cell, "variant": variant, "reference": reference, "n": analysis.data.labels.size}
    return [
        row
        for test in PAIRED_TESTS
        for row in ROW_BUILDERS.get(test.name)(analysis, base, test.metrics, variant, reference)
    ]


def power_row(analysis: CellAnalysis, variant: str, *, target: float = 0.8) -> dict:
    """Smallest accuracy difference to HR this cell's images detect with ``target`` power (Connor's
    approximation at the observed discordant fraction, two-sided 1 - confidence); NaN without any
    discordant image."""
    correct_v, correct_r = _correct(analysis, variant), _correct(analysis, REFERENCE)
    n = correct_v.size
    discordant = float(np.mean(correct_v != correct_r))
    alpha = 1 - analysis.confidence
    detectable = (
        power.smallest_detectable_difference(n, discordant, alpha=alpha, power=target)
        if discordant > 0
        else float("nan")
    )
    return {
        "cell": analysis.cell,
        "variant": variant,
        "reference": REFERENCE,
        "metric": "accuracy",
        "n": n,
        "discordant_fraction": discordant,
        "detectable_difference": detectable,
        "power": target,
        "method": "connor-1987" + ("" if analysis.clusters is None else " (images; clustering widens it)"),
        "note": "no discordant image"
        if discordant == 0
        else f"below {target:.0%} power even with every discordant image favouring one side"
        if np.isnan(detectable)
        else "",
    }


def noninferiority_rows(analysis: CellAnalysis, variant: str, margins: dict[str, float]) -> list[dict]:
    """Non-inferiority and TOST of ``variant`` against HR for each metric with a margin."""
    rows = []
    base = {"cell": analysis.cell, "variant": variant, "reference": REFERENCE}
    for metric, margin in margins.items():
        if metric in noninferiority.PAIRED_PROPORTION_METRICS:
            row = mcnemar_row(analysis, base, metric, variant, REFERENCE)
            members = _subset(analysis, metric)
            correct_v, correct_r = (
                _correct(analysis, variant)[members],
                _correct(analysis, REFERENCE)[members],
            )
            difference = correct_v.astype(float) - correct_r.astype(float)
            deff = (
                1.0
                if analysis.clusters is None
                else proportions.design_effect(difference, analysis.clusters[members])
            )
            figures = noninferiority.proportion_result(
                *paired_table(analysis, correct_v, correct_r),
                margin,
                confidence=analysis.confidence,
                deff=deff,
            )
            method = "newcombe" if analysis.clusters is None else "newcombe-cluster-design-effect"
            if not np.isfinite(deff):
                figures["note"] = "one patient: no between-patient variance, no interval"
        elif metric == "auroc":
            row = auroc_row(analysis, {**base, "n": analysis.data.labels.size}, variant, REFERENCE)
            z = stats.norm.isf((1 - analysis.confidence) / 2)
            standard_error = (row["ci_high"] - row["ci_low"]) / (2 * z)
            figures = noninferiority.normal_result(
                row["difference"], standard_error, margin, confidence=analysis.confidence
            )
            method = row["method"]
        else:
            raise ValueError(f"Expected margins for {noninferiority.MARGIN_METRICS}, got {metric!r}.")
        rows.append(
            {
                "cell": analysis.cell,
                "variant": variant,
                "reference": REFERENCE,
                "metric": metric,
                "margin": float(margin),
                "n": row["n"],
                "estimate_variant": row["estimate_variant"],
                "estimate_reference": row["estimate_reference"],
                "difference": row["difference"],
                **{k: figures[k] for k in ("ci_low", "ci_high", "lower_bound", "p_value", "verdict")},
                "p_equivalence": figures["p_equivalence"],
                "equivalence": figures["equivalence"],
                "method": method,
                "note": figures["note"] or (row["note"] if np.isnan(figures["ci_low"]) else ""),
            }
        )
    return rows


def paired_row(
    base: dict,
    test: str,
    metric: str,
    estimate_v: float,
    estimate_r: float,
    ci: tuple[float, float],
    result: paired.PairedResult,
    *,
    threshold: Threshold | None = None,
    difference: float | None = None,
    discordant: tuple[float, float] = (np.nan, np.nan),
) -> dict:
    """One row of the paired-tests table (``family`` and ``p_adjusted*`` filled later)."""
    return {
        **base,
        "test": test,
        "metric": metric,
        "threshold": "" if threshold is None else threshold.name,
        "method": result.method,
        "estimate_variant": float(estimate_v),
        "estimate_reference": float(estimate_r),
        "difference": float(estimate_v - estimate_r) if difference is None else float(difference),
        "ci_low": ci[0],
        "ci_high": ci[1],
        "statistic": result.statistic,
        "effect_size": result.effect_size,
        "p_value": result.p_value,
        "p_adjusted": np.nan,
        "p_adjusted_bh": np.nan,
        "family": "",
        "family_size": 0,
        "only_variant_correct": discordant[0],
        "only_reference_correct": discordant[1],
        "note": result.note,
    }


def wilcoxon_row(
    base: dict, metric: str, values_v: np.ndarray, values_r: np.ndarray, confidence: float
) -> dict:
    """Wilcoxon row on per-image values; images where either value is non-finite are dropped."""
    finite = np.isfinite(values_v) & np.isfinite(values_r)
    dropped = int((~finite).sum())
    if not finite.any():
        return paired_row(
            {**base, "n": 0},
            "wilcoxon",
            metric,
            np.nan,
            np.nan,
            (np.nan, np.nan),
            paired.PairedResult(np.nan, np.nan, f"all {dropped} images have non-finite values"),
        )
    differences = values_v[finite] - values_r[finite]
    ci = intervals.median_interval(differences, confidence=confidence)
    result = paired.wilcoxon_test(values_v[finite], values_r[finite], zero_method=WILCOXON_ZERO_METHOD)
    note = "; ".join(
        filter(None, [result.note, f"{dropped} images with non-finite values dropped" if dropped else ""])
    )
    return paired_row(
        {**base, "n": int(finite.sum())},
        "wilcoxon",
        metric,
        np.median(values_v[finite]),
        np.median(values_r[finite]),
        ci,
        paired.PairedResult(result.statistic, result.p_value, note, result.method, result.effect_size),
        difference=np.median(differences),
    )
