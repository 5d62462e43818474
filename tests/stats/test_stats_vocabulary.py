"""Every test name and method the analysis emits has a label and a Methods sentence (stats.vocabulary)."""

import pytest

from benchmark.stats import vocabulary
from benchmark.stats.analysis import analyze
from benchmark.stats.cell_tests import ROW_BUILDERS
from reports import formatting
from reports.methods import _statistics
from tests.stats.test_stats_analysis import N_IMAGES, make_predictions, make_quality

# Images 2k and 2k+1 (same class) belong to one patient.
CLUSTERS = {f"img{i:03d}": f"p{i // 2}" for i in range(N_IMAGES)}


@pytest.fixture(
    scope="module",
    params=[(None, "bca"), (None, "percentile"), ("patient", "bca"), ("patient", "percentile")],
)
def run(request):
    cluster, bootstrap_ci = request.param
    tables = analyze(
        make_quality(),
        make_predictions(),
        n_bootstrap=200,
        seed=0,
        clusters=CLUSTERS if cluster else None,
        bootstrap_ci=bootstrap_ci,
    )
    return {name: table.to_dict("records") for name, table in tables.items()}


def test_every_emitted_test_has_a_label(run):
    tests = {row["test"] for row in run["paired_tests"]}
    assert tests == set(vocabulary.TEST_LABELS)
    assert all(formatting.test_label(test) != test for test in tests)


def test_every_emitted_primary_method_has_a_methods_sentence(run):
    methods = {row["method"] for row in run["paired_tests"] if row["family"] == "primary"}
    assert methods and methods <= set(vocabulary.PRIMARY_METHOD_TEXT), methods


def test_every_emitted_test_but_the_primary_ones_has_a_sentence_in_the_methods_text(run):
    tests = {row["test"] for row in run["paired_tests"]} - set(vocabulary.PRIMARY_TESTS.values())
    assert tests <= set(vocabulary.PAIRED_TEST_TEXT), tests - set(vocabulary.PAIRED_TEST_TEXT)
    text = _statistics({"stats": {"confidence": 0.95}}, run)
    for test in tests:
        assert vocabulary.PAIRED_TEST_TEXT[test] in text


def test_every_emitted_interval_method_has_a_sentence_in_the_methods_text(run):
    methods = {row["ci_method"] for name in ("classification", "quality") for row in run[name]}
    assert methods <= set(vocabulary.INTERVAL_METHOD_TEXT), methods - set(vocabulary.INTERVAL_METHOD_TEXT)
    text = _statistics({"stats": {"confidence": 0.95}}, run)
    for method in methods:
        assert vocabulary.INTERVAL_METHOD_TEXT[method] in text


def test_primary_tests_follow_the_table():
    assert vocabulary.PRIMARY_TESTS == {
        "accuracy": "mcnemar",
        "sensitivity": "mcnemar",
        "specificity": "mcnemar",
        "auroc": "delong",
    }


def test_every_paired_test_of_the_table_has_a_row_builder_and_no_other():
    assert set(ROW_BUILDERS.names()) == set(vocabulary.TEST_LABELS)
