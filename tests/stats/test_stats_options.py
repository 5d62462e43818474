"""The statistical options have one set of limits: a suite's YAML and analyze() refuse the same values."""

import pandas as pd
import pytest

from benchmark.stats.analysis import analyze, classification_table
from benchmark.stats.options import MAX_SEED, MIN_BOOTSTRAP, AnalysisOptions, checked_options
from cxr_kernel.errors import UserError
from tests.cli.test_config import load_suite, with_changes, write_suite

EMPTY = pd.DataFrame(columns=["cell", "variant", "image_id", "metric", "value"])
PREDICTIONS = pd.DataFrame(
    [
        {"cell": "c", "variant": v, "image_id": f"i{i}", "label": i % 2, "prob": 0.2 + 0.6 * (i % 2)}
        for v in ("HR", "sr")
        for i in range(6)
    ]
)

REFUSED = [
    ("threshold", 0.0),  # every image called pneumonia
    ("threshold", 1.0),  # none called pneumonia unless prob is exactly 1
    ("threshold", -0.2),
    ("confidence", 1.0),
    ("n_bootstrap", MIN_BOOTSTRAP - 1),
    ("n_bootstrap", 10**9),
    ("margins", {"accuracy": 1.5}),
    ("margins", {"brier": 0.1}),
    ("primary", ["brier"]),
    ("primary", []),
    ("bootstrap_ci", "bc"),
    ("seed", -1),
    ("seed", MAX_SEED + 1),
]


def _yaml(tmp_path, key, value):
    changes = {"seed": value} if key == "seed" else {"stats": {key: value}}
    return load_suite(str(write_suite(tmp_path, with_changes(**changes))))


@pytest.mark.parametrize(("key", "value"), REFUSED)
def test_yaml_and_api_refuse_the_same_values(tmp_path, key, value):
    with pytest.raises(UserError, match=key):
        _yaml(tmp_path, key, value)
    with pytest.raises(UserError, match=f"Invalid analysis option {key}"):
        analyze(EMPTY, PREDICTIONS, **{key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [("threshold", 0.001), ("threshold", 0.999), ("n_bootstrap", MIN_BOOTSTRAP), ("seed", MAX_SEED)],
)
def test_yaml_and_api_accept_the_limits(tmp_path, key, value):
    suite = _yaml(tmp_path, key, value)
    assert (suite.seed if key == "seed" else getattr(suite.stats, key)) == value
    assert getattr(checked_options(**{key: value}), key) == value


def test_classification_table_checks_the_same_options():
    options = {**AnalysisOptions().model_dump(), "clusters": None, "threshold": 1.0}
    with pytest.raises(UserError, match="Invalid analysis option threshold"):
        classification_table(PREDICTIONS, options)


def test_suite_stats_and_analyze_share_defaults(tmp_path):
    stats = load_suite(str(write_suite(tmp_path, with_changes()))).stats
    defaults = AnalysisOptions()
    for key in ("threshold", "confidence", "n_bootstrap", "primary", "bootstrap_ci", "correct_across_cells"):
        assert getattr(stats, key) == getattr(defaults, key)


def test_analyze_uses_the_checked_values_not_the_raw_ones():
    """Before: the check passed "0.5" and 200.0 (read as 0.5 and 200) and analyze then used the raw
    values, failing deep inside (a string compared with probabilities, a float as an array size)."""
    plain = analyze(EMPTY, PREDICTIONS, threshold=0.5, n_bootstrap=200)
    spelled = analyze(EMPTY, PREDICTIONS, threshold="0.5", n_bootstrap=200.0)
    for name, table in plain.items():
        pd.testing.assert_frame_equal(spelled[name], table)
    options = {**AnalysisOptions(n_bootstrap=200).model_dump(), "clusters": None}
    pd.testing.assert_frame_equal(
        classification_table(PREDICTIONS, {**options, "threshold": "0.5", "n_bootstrap": 200.0}),
        classification_table(PREDICTIONS, options),
    )
