"""The regression check names classification rows by threshold, so Youden rows never mask the 0.5 rows."""

import json

from benchmark.pipeline.regression import run_figures


def test_youden_rows_get_their_own_name_and_both_thresholds_are_pinned(tmp_path):
    row = {"cell": "x4", "variant": "HR", "metric": "accuracy", "ci_low": 0.0, "ci_high": 1.0}
    tables = {
        "quality": [],
        "classification": [
            {**row, "threshold": "0.5", "estimate": 0.8},
            {**row, "threshold": "youden-hr", "estimate": 0.9},
            {**row, "metric": "auroc", "threshold": "", "estimate": 0.95},
        ],
    }
    (tmp_path / "summary.json").write_text(json.dumps({"suite": "s", "run_id": "r", "tables": tables}))
    figures = {k: v for k, v in run_figures(tmp_path).items() if k.startswith("classification/")}
    assert sorted(figures.values()) == [0.8, 0.9, 0.95]
    by_value = {value: name for name, value in figures.items()}
    assert "threshold=0.5" in by_value[0.8] and "threshold=youden-hr" in by_value[0.9]
