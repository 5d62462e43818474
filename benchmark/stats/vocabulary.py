"""The statistical vocabulary in one place: paired tests, primary endpoints, methods and interval methods.

Each name a stored table can hold (``test``, a primary test's ``method``, ``ci_method``) is defined here
once with what a reader sees: its label and the sentence the report's Methods paragraph uses.  The
config's choices, ``analysis.PRIMARY_TESTS``, the report's labels and the Methods text all derive from
these tables; ``tests/stats/test_stats_vocabulary.py`` fails when an emitted name has none.  Adding a paired
test: its entry in ``PAIRED_TESTS`` (label, metrics, Methods sentence; a primary test's methods in
``PRIMARY_METHODS``) plus its row builder, decorated ``@_paired_test(name)`` in
``benchmark.stats.cell_tests`` (registered in the shared ``cxr_kernel.registry.Registry``), and its test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PairedTest:
    """A paired test (``paired_tests.test``): ``metrics`` it tests; ``primary`` when it is the one
    test of those metrics as primary endpoints (analytic: no bootstrap p-value floor); ``sentence`` what
    the Methods paragraph says of it when a run holds its rows (every test but the primary ones, whose
    methods' sentences speak for them)."""

    name: str
    label: str
    metrics: tuple[str, ...]
    primary: bool = False
    sentence: str = ""


@dataclass(frozen=True)
class Method:
    """A stored method name (a primary test's ``method``, or a ``ci_method``) and its Methods sentence."""

    name: str
    sentence: str


PAIRED_TESTS = (
    PairedTest("mcnemar", "McNemar", ("accuracy", "sensitivity", "specificity"), primary=True),
    PairedTest("delong", "DeLong", ("auroc",), primary=True),
    PairedTest(
        "bootstrap",
        "Bootstrap",
        ("accuracy", "sensitivity", "specificity", "brier", "auroc"),
        sentence="As supplementary tests, each metric's difference between two variants was bootstrapped "
        "with the same resamples for both (stratified by class, or whole patients when images are "
        "clustered), its p-value read by inverting the bootstrap interval (Efron 1987; Davison & Hinkley "
        "1997).",
    ),
    PairedTest(
        "wilcoxon",
        "Wilcoxon",
        ("prob",),
        sentence="Per-image differences in P(pneumonia) and in each image-quality metric were tested with "
        "the Wilcoxon signed-rank test (zero differences kept in the ranking, Pratt's method; effect size "
        "the matched-pairs rank-biserial correlation), images treated as independent even where a "
        "patient contributes several.",
    ),
    PairedTest(
        "mcnemar-midp",
        "McNemar mid-p",
        ("accuracy", "sensitivity", "specificity"),
        sentence="As a supplementary test of the McNemar hypotheses, the McNemar mid-p test (Fagerland, "
        "Lydersen & Laake 2013), which subtracts the probability of the observed split of discordant "
        "images from the exact test's p-value and so is less conservative at small counts, is reported in "
        "families of its own, never as a primary test.",
    ),
)
TESTS_BY_NAME = {test.name: test for test in PAIRED_TESTS}
TEST_LABELS = {test.name: test.label for test in PAIRED_TESTS}
PAIRED_TEST_TEXT = {test.name: test.sentence for test in PAIRED_TESTS if test.sentence}
# The one test of each primary endpoint.
PRIMARY_TESTS = {metric: test.name for test in PAIRED_TESTS if test.primary for metric in test.metrics}
PRIMARY_ENDPOINTS = tuple(PRIMARY_TESTS)
# ``stats: {bootstrap_ci: ...}``: "bca" (default) or "percentile".
BOOTSTRAP_INTERVALS = ("bca", "percentile")

# What a primary test's stored ``method`` is, as the Methods paragraph names it.
PRIMARY_METHODS = (
    Method("exact-binomial", "McNemar's exact test"),
    Method("chi2-continuity", "McNemar's chi-square test with continuity correction"),
    Method("cluster-durkalski", "the clustered McNemar test of Durkalski et al. (2003)"),
    Method("cluster-exact-binomial", "McNemar's exact test where no patient holds two discordant images"),
    Method(
        "cluster-chi2-continuity", "McNemar's chi-square test where no patient holds two discordant images"
    ),
    Method("delong-wald", "DeLong's test"),
    Method("cluster-obuchowski", "Obuchowski's (1997) clustered AUROC comparison"),
)
# What a stored ``ci_method`` means, for a reader who does not know the name.
INTERVAL_METHODS = (
    Method(
        "bootstrap-expanded-percentile",
        "Intervals of mean image quality are bootstrap percentile intervals of the mean, read at "
        "Hesterberg's expanded level (z·√((n−1)/n) = t with n−1 degrees of freedom) so that small samples "
        "do not undercover; unlike t-intervals they stay within each metric's range.",
    ),
    Method(
        "cluster-bootstrap-expanded-percentile",
        "Intervals of mean image quality are percentile intervals of the mean from a patient-cluster "
        "bootstrap, read at Hesterberg's expanded level (z·√((n−1)/n) = t with n−1 degrees of freedom) so "
        "that small samples do not undercover; unlike t-intervals they stay within each metric's range.",
    ),
    Method(
        "wilson", "Proportions (accuracy, sensitivity, specificity, PPV, NPV) have Wilson score intervals."
    ),
    Method(
        "wilson-cluster-design-effect",
        "Proportions (accuracy, sensitivity, specificity, PPV, NPV) have Wilson score intervals on "
        "effective counts, the counts divided by the design effect of the patients' clustering (Rao & "
        "Scott 1992).",
    ),
    Method(
        "stratified-bootstrap-percentile",
        "Other classification intervals are percentile intervals of a bootstrap stratified by class.",
    ),
    Method(
        "cluster-bootstrap-percentile",
        "Other classification intervals are percentile intervals of a patient-cluster bootstrap, patients "
        "resampled within their class.",
    ),
    Method(
        "stratified-bootstrap-bca",
        "Other classification intervals are bias-corrected and accelerated (BCa; Efron 1987) intervals "
        "of a bootstrap stratified by class, the acceleration from the leave-one-image-out jackknife.",
    ),
    Method(
        "cluster-bootstrap-bca",
        "Other classification intervals are bias-corrected and accelerated (BCa; Efron 1987) intervals "
        "of a patient-cluster bootstrap, patients resampled within their class, the acceleration from "
        "the leave-one-patient-out jackknife.",
    ),
)
PRIMARY_METHOD_TEXT = {method.name: method.sentence for method in PRIMARY_METHODS}
INTERVAL_METHOD_TEXT = {method.name: method.sentence for method in INTERVAL_METHODS}
