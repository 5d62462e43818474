"""Regression check of a run against a stored baseline: the headline figures must not move.

A *figure* is one named headline number of a run: ``quality/<cell>/<variant>/<metric>`` (mean of the
per-image values), ``classification/<cell>/<variant>/<metric>`` (the estimate), ``flips/<cell>/<variant>/
<count>``, ``predictions/<cell>/<variant>/labels_sha256`` (hash of every image's predicted label) and
``data/n_eval_images`` / ``data/n_train_images``. Rows are keyed by every identifying column present, so
a column added to a summary table (a ``threshold`` per classification row, say) extends the name
(``classification/<cell>/<variant>/threshold=0.5/accuracy``) instead of colliding.

A baseline JSON holds ``suite``, ``tolerances`` and ``figures``. ``tolerances`` maps glob patterns
(``fnmatch``, ``*`` crosses ``/``) to a tolerance; the first pattern matching a figure's name wins:

- a number ``x``: the figure may move by at most ``x`` (absolute; 0 means equal);
- ``{"abs": a, "rel": r}``: at most ``max(a, r * |baseline|)``;
- ``"exact"``: equal (hashes, counts);
- ``null``: shown, never failed (a figure that is not reproducible on every platform).

Anything else (``true``, a number as text, a negative number, NaN) is refused when the file is read
(``benchmark.pipeline.baseline_schema``).

A run passes when every baseline figure is present and within its tolerance; new figures are shown as
``new`` and pass. Rewriting a baseline keeps its tolerances, so a deliberate change shows in the diff as
moved numbers only.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from benchmark.pipeline.baseline_schema import check_tolerances, validated_baseline
from benchmark.pipeline.config import PROJECT_DIR
from benchmark.pipeline.store import RunStore
from benchmark.stats.flips import FLIP_COUNTS, predicted_labels
from cxr_kernel.atomic import write_text
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import CONFIG, PREDICTIONS

BASELINE_DIR = PROJECT_DIR / "data_manifests" / "baselines"

# Summary table -> the columns whose values are figures; None: the row's ``metric`` column names it.
FIGURE_COLUMNS = {
    "quality": {None: "mean"},
    "classification": {None: "estimate"},
    "flips": {
        count: count
        for count in FLIP_COUNTS
        if count not in ("n", "flip_rate")  # n is data/n_eval_images; the rate follows from n_flips
    },
}
PATH_COLUMNS = ("cell", "variant")
# Columns that describe a number rather than identify it; any other text column (and `threshold`) is
# a qualifier that becomes part of the figure's name.
DESCRIPTIVE_COLUMNS = {"metric", "ci_method", "note"}
NUMERIC_QUALIFIERS = ("threshold",)

#: Probabilities closer than this to the threshold give labels the check counts but does not compare:
#: a thousand times the largest change of a probability measured between instruction sets
#: (``spread`` in the baseline file).
LABEL_BAND = 1e-3

# The patterns of every baseline, first match wins. Counts and hashes are exact; the numbers are the
# floors that `check --measure-tolerances` raises to the spread it measures across instruction sets
# (benchmark.pipeline.tolerances); near_threshold counts are shown, never failed.
DEFAULT_TOLERANCES = {
    "data/*": "exact",
    "predictions/*/near_threshold": None,
    "predictions/*": "exact",
    "flips/*": 0,
    "classification/*/accuracy": 0,
    "classification/*/sensitivity": 0,
    "classification/*/specificity": 0,
    "classification/*/ppv": 0,
    "classification/*/npv": 0,
    "classification/*/f1": 0,
    "classification/*": 1e-6,
    "quality/*/psnr": 1e-4,
    "quality/*/gradcam_*": 1e-5,
    "quality/*": 1e-6,
    "*": "exact",
}

Value = float | str | None


def default_baseline(suite_name: str, *, smoke: bool) -> Path:
    """``data_manifests/baselines/<suite>[-smoke].json``."""
    return BASELINE_DIR / f"{suite_name}{'-smoke' if smoke else ''}.json"


def _number(value) -> float | int | None:
    if value is None or isinstance(value, int):  # counts stay ints
        return value
    value = float(value)
    return None if math.isnan(value) else value


def _row_name(table: str, row: dict, metric: str) -> str:
    qualifiers = [
        f"{column}={row[column]}"
        for column, value in row.items()
        if column not in PATH_COLUMNS
        and column not in DESCRIPTIVE_COLUMNS
        and (isinstance(value, str) or (column in NUMERIC_QUALIFIERS and value is not None))
    ]
    return "/".join([table, *(str(row[c]) for c in PATH_COLUMNS if c in row), *qualifiers, metric])


def _table_figures(table: str, rows: list[dict]) -> dict[str, Value]:
    figures: dict[str, Value] = {}
    for row in rows:
        for metric_name, column in FIGURE_COLUMNS[table].items():
            if column not in row:
                continue
            name = _row_name(table, row, metric_name or str(row["metric"]))
            if name in figures:
                raise UserError(
                    f"Two rows of summary table {table!r} are both named {name!r}: it gained an identifying "
                    "column that is not text. Add it to benchmark.pipeline.regression.NUMERIC_QUALIFIERS."
                )
            figures[name] = _number(row[column])
    return figures


def _prediction_hashes(run_dir: Path) -> dict[str, Value]:
    """Per cell and variant: sha256 (16 hex digits) of the sorted (image_id, predicted label) pairs of the
    images whose probability lies at least ``LABEL_BAND`` from the threshold, and how many lie closer.

    A label within the band can flip between CPUs (probabilities move in their last bits with the
    instruction set), so it is counted, not hashed: the check stays exact for every other image.
    """
    store = RunStore(run_dir)
    predictions = store.read_table(PREDICTIONS, ["cell", "variant", "image_id", "prob"])
    if predictions is None:
        return {}
    config = yaml.safe_load(store.read_text(CONFIG) or "") or {}
    threshold = (config.get("stats") or {}).get("threshold", 0.5)
    figures: dict[str, Value] = {}
    for (cell, variant), group in predictions.groupby(["cell", "variant"], sort=True):
        group = group.sort_values("image_id")
        probabilities = group["prob"].to_numpy()
        clear = np.abs(probabilities - threshold) >= LABEL_BAND
        labels = predicted_labels(probabilities, threshold)[clear].tolist()
        pairs = zip(group["image_id"][clear], labels, strict=True)
        text = "\n".join(f"{image_id}\t{label}" for image_id, label in pairs)
        figures[f"predictions/{cell}/{variant}/labels_sha256"] = hashlib.sha256(text.encode()).hexdigest()[
            :16
        ]
        figures[f"predictions/{cell}/{variant}/near_threshold"] = int((~clear).sum())
    return figures


def run_figures(run_dir: Path) -> dict[str, Value]:
    """Every headline figure of a run, by name (module docstring), read tolerantly from its files."""
    run_dir = Path(run_dir)
    summary = RunStore(run_dir).read_summary()
    figures: dict[str, Value] = {}
    for table in FIGURE_COLUMNS:
        figures |= _table_figures(table, summary.rows(table))
    figures |= _prediction_hashes(run_dir)
    counts = summary.n_images.model_dump(exclude_unset=True) if summary.n_images else {}
    for split in ("eval", "train"):
        if split in counts:
            figures[f"data/n_{split}_images"] = counts[split]
    return figures


# -- the baseline file ------------------------------------------------------------------------------
def stored_baseline(path: Path) -> dict | None:
    """The baseline at ``path``; None when there is none or it is of the older format without figures."""
    path = Path(path)
    baseline = validated_baseline(path) if path.is_file() else None
    return baseline if isinstance(baseline, dict) and "figures" in baseline else None


def read_baseline(path: Path) -> dict:
    baseline = stored_baseline(path)
    if baseline is None:
        state = "has no `figures` (an older format)" if Path(path).is_file() else "not found"
        raise UserError(
            f"Baseline {path} {state}. Write it from a trusted run with `--update-baseline` and commit it."
        )
    return baseline


def write_baseline(
    path: Path, suite: str | None, figures: dict, *, tolerances: dict | None = None, measurement=None
) -> Path:
    """Write ``figures`` to the baseline at ``path``. Without ``tolerances`` those of the baseline
    already there are kept, with the measurement they rest on (DEFAULT_TOLERANCES for a new file)."""
    previous = stored_baseline(path) or {}
    if tolerances is None:
        tolerances = previous.get("tolerances", DEFAULT_TOLERANCES)
        measurement = previous.get("measurement")
    baseline = {"suite": suite, "tolerances": tolerances, "figures": dict(sorted(figures.items()))}
    if measurement is not None:
        baseline["measurement"] = measurement
    return write_text(path, json.dumps(baseline, indent=1) + "\n")


# -- comparing --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    name: str
    baseline: Value
    now: Value
    tolerance: object
    verdict: str  # ok | MOVED | MISSING | new | info

    @property
    def failed(self) -> bool:
        return self.verdict in ("MOVED", "MISSING")


def tolerance_for(name: str, tolerances: dict) -> object:
    for pattern, tolerance in tolerances.items():
        if fnmatch.fnmatchcase(name, pattern):
            return tolerance
    return "exact"


def within(expected: Value, actual: Value, tolerance) -> bool:
    """Whether ``actual`` is within ``tolerance`` (module docstring) of ``expected``; None is NaN."""
    if tolerance is None:
        return True
    if tolerance == "exact" or isinstance(expected, str) or isinstance(actual, str):
        return expected == actual
    if expected is None or actual is None or math.isinf(expected) or math.isinf(actual):
        return expected == actual
    if isinstance(tolerance, dict):  # checked when read (benchmark.pipeline.baseline_schema)
        allowed = max(tolerance.get("abs", 0.0), tolerance.get("rel", 0.0) * abs(expected))
    else:
        allowed = tolerance
    return abs(actual - expected) <= allowed


def compare(run_dir: Path, baseline_path: Path, *, tolerance: float | None = None) -> list[Comparison]:
    """Each baseline and run figure with its verdict; ``tolerance`` overrides the file's (relative,
    absolute below 1, as ``{"abs": t, "rel": t}``)."""
    baseline = read_baseline(baseline_path)
    summary_suite = RunStore(run_dir).read_summary().suite
    if baseline.get("suite") not in (None, summary_suite):
        raise UserError(
            f"Baseline {baseline_path} is for suite {baseline['suite']!r}, the run is {summary_suite!r}. "
            f"Use --baseline {default_baseline(summary_suite, smoke=False)} (or its -smoke twin)."
        )
    tolerances = (
        baseline["tolerances"]
        if tolerance is None
        else check_tolerances({"*": {"abs": tolerance, "rel": tolerance}}, "--tolerance")
    )
    expected, actual = baseline["figures"], run_figures(run_dir)
    rows = []
    for name in list(expected) + [n for n in actual if n not in expected]:
        allowed = tolerance_for(name, tolerances)
        if name not in actual:
            verdict = "MISSING"
        elif name not in expected:
            verdict = "new"
        elif allowed is None:
            verdict = "info"
        else:
            verdict = "ok" if within(expected[name], actual[name], allowed) else "MOVED"
        rows.append(Comparison(name, expected.get(name), actual.get(name), allowed, verdict))
    return rows
