"""The regression check keys classification rows by threshold, so Youden rows never mask the 0.5 rows."""

import json

from benchmark.regression import headline_numbers


def test_youden_rows_get_their_own_key_and_fixed_rows_keep_the_plain_key(tmp_path):
    row = {"cell": "x4", "variant": "HR", "metric": "accuracy", "ci_low": 0.0, "ci_high": 1.0}
    tables = {
        "quality": [],
        "classification": [
            {**row, "threshold": "0.5", "estimate": 0.8},
            {**row, "threshold": "youden-hr", "estimate": 0.9},
            {**row, "metric": "auroc", "threshold": "", "estimate": 0.95},
        ],
    }
    (tmp_path / "summary.json").write_text(json.dumps({"tables": tables}))
    assert headline_numbers(tmp_path / "summary.json")["classification"] == {
        "x4/HR/accuracy": 0.8,
        "x4/HR/accuracy@youden-hr": 0.9,
        "x4/HR/auroc": 0.95,
    }
