"""Regression check of a run against a stored baseline: the headline numbers must not move.

A baseline is a small JSON of ``{"quality": {key: mean}, "classification": {key: estimate}}`` with
keys ``cell/variant/metric``, written from a trusted run with ``check --write-baseline``. A later run
passes when every baseline number is present and within tolerance; new numbers are reported, not failed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from benchmark.atomic import write_text
from benchmark.errors import UserError
from benchmark.stats.schema import YOUDEN_THRESHOLD

TABLES = {"quality": "mean", "classification": "estimate"}


def headline_numbers(summary_path: Path) -> dict[str, dict[str, float]]:
    """The numbers a baseline pins, read from a run's ``summary.json``."""
    if not summary_path.is_file():
        raise UserError(f"No summary at {summary_path}. Run the suite first (`python -m benchmark run ...`).")
    tables = json.loads(summary_path.read_text())["tables"]
    return {table: {_key(row): row[column] for row in tables[table]} for table, column in TABLES.items()}


def _key(row: dict) -> str:
    """``cell/variant/metric``, with ``@youden-hr`` for rows at HR's Youden threshold."""
    key = f"{row['cell']}/{row['variant']}/{row['metric']}"
    return f"{key}@{YOUDEN_THRESHOLD}" if row.get("threshold") == YOUDEN_THRESHOLD else key


def write_baseline(run_dir: Path, path: Path) -> Path:
    return write_text(
        path, json.dumps(headline_numbers(Path(run_dir) / "summary.json"), indent=1, sort_keys=True)
    )


def _differs(expected: float | None, actual: float | None, tolerance: float) -> bool:
    if expected is None or actual is None:  # JSON null: undefined in the baseline or in the run
        return expected is not actual
    if math.isinf(expected) or math.isinf(actual):
        return expected != actual
    return abs(actual - expected) > tolerance * max(1.0, abs(expected))


def compare(run_dir: Path, baseline_path: Path, *, tolerance: float) -> list[str]:
    """Every difference beyond ``tolerance`` (relative, or absolute below 1) as a readable line."""
    if not baseline_path.is_file():
        raise UserError(
            f"Baseline not found: {baseline_path}. "
            "Write one with `check RUN --baseline FILE --write-baseline`."
        )
    baseline = json.loads(baseline_path.read_text())
    actual = headline_numbers(Path(run_dir) / "summary.json")
    problems = []
    for table, expected_numbers in baseline.items():
        for key, expected in sorted(expected_numbers.items()):
            if key not in actual.get(table, {}):
                problems.append(f"{table} {key}: in the baseline ({expected}) but missing from the run")
            elif _differs(expected, actual[table][key], tolerance):
                problems.append(f"{table} {key}: baseline {expected}, run {actual[table][key]}")
    return problems
