"""Read a run directory `runs/<suite>/<run-id>/` for the report, and write files atomically.

Only `summary.json` is required; every other file is optional here and the page says plainly which
ones were missing, so a report of a partial run is still readable.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.stats.schema import RESULTS_FILE, analysis_inputs, read_results
from cxr_kernel import run_files
from cxr_kernel.atomic import atomic_path
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import CONFIG, ENVIRONMENT, EXAMPLES_INDEX, MANIFEST, PERF, PREDICTIONS, SUMMARY
from reports.formatting import adopt_metric_specs

REQUIRED_SUMMARY_KEYS = ("suite", "run_id", "tables")
PREDICTIONS_COLUMNS = ("cell", "variant", "image_id", "label", "prob")


class RunFileMissing(UserError, FileNotFoundError):
    """A file the report needs is not in the run directory (the CLI shows the message, no traceback)."""


class RunFileInvalid(UserError, ValueError):
    """A run-directory file exists but cannot be read as the pipeline writes it."""


@dataclass
class RunData:
    """Everything the report reads from one run directory; optional parts are None when absent."""

    run_dir: Path
    summary: dict[str, Any]
    config_text: str | None = None
    environment: dict[str, Any] | None = None
    manifest_lines: list[str] | None = None
    manifest_sha256: str | None = None
    results: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    perf: dict[str, Any] | None = None  # `python -m benchmark perf --out <run dir>`, when it was run
    missing: list[str] = field(default_factory=list)


def load_summary(run_dir: Path) -> dict[str, Any]:
    """Read and check `run_dir/summary.json`.

    Raises
    ------
    RunFileMissing
        If the directory or summary.json does not exist (message names the path and the fix).
    RunFileInvalid
        If summary.json is not JSON or lacks one of "suite", "run_id", "tables".
    """
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY
    if not run_dir.is_dir():
        raise RunFileMissing(
            f"Expected a run directory, got {str(run_dir)!r} which does not exist. {_run_fix(run_dir)}"
        )
    if not path.is_file():
        raise RunFileMissing(f"Expected {path} (the run summary), but it does not exist. {_run_fix(run_dir)}")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RunFileInvalid(
            f"Expected valid JSON in {path}, got: {err}. Re-run the suite to rewrite it."
        ) from err
    if not isinstance(summary, dict):
        raise RunFileInvalid(
            f"Expected a JSON object in {path}, got {type(summary).__name__}. Re-run the suite."
        )
    absent = [key for key in REQUIRED_SUMMARY_KEYS if key not in summary]
    if absent:
        raise RunFileInvalid(
            f"Expected keys {absent} in {path}, got only {sorted(summary)}. Re-run the suite."
        )
    tables = summary["tables"]
    malformed = (
        [str(type(tables).__name__)]
        if not isinstance(tables, dict)
        else [
            n
            for n, rows in tables.items()
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows)
        ]
    )
    if malformed:
        raise RunFileInvalid(
            f'Expected "tables" in {path} to map each table name to a list of records, got {malformed}. '
            "Re-run the suite."
        )
    run_files.verify(run_dir, summary)  # every file of the directory is this run's
    if isinstance(summary.get("metric_specs"), dict):
        adopt_metric_specs(summary["metric_specs"])  # the run's own labels and directions
    return summary


def load_run(run_dir: Path) -> RunData:
    """Read summary.json (required) and the optional provenance, result and example files."""
    run_dir = Path(run_dir)
    run = RunData(run_dir=run_dir, summary=load_summary(run_dir))

    config = run_dir / CONFIG
    if config.is_file():
        run.config_text = config.read_text(encoding="utf-8")
    else:
        run.missing.append(config.name)

    environment = run_dir / ENVIRONMENT
    if environment.is_file():
        run.environment = _read_json(environment)
    else:
        run.missing.append(environment.name)

    manifest = run_dir / MANIFEST
    if manifest.is_file():
        data = manifest.read_bytes()
        run.manifest_sha256 = hashlib.sha256(data).hexdigest()
        run.manifest_lines = [line for line in data.decode("utf-8").splitlines() if line.strip()]
    else:
        run.missing.append(manifest.name)

    results = run_dir / RESULTS_FILE
    if results.is_file():  # the tidy results table; the report shows its image-quality rows
        run.results = analysis_inputs(read_results(results))[0]
    else:
        run.missing.append(results.name)
    run.predictions = _read_parquet(run_dir / PREDICTIONS, PREDICTIONS_COLUMNS, run.missing)

    perf = run_dir / PERF
    if perf.is_file():  # optional: a run is complete without it, so it is never listed as missing
        run.perf = _read_json(perf)

    index = run_dir / EXAMPLES_INDEX
    if index.is_file():
        examples = _read_json(index)
        if not isinstance(examples, list):
            raise RunFileInvalid(
                f"Expected a JSON list of examples in {index}, got {type(examples).__name__}."
            )
        run.examples = examples
    else:
        run.missing.append(EXAMPLES_INDEX)
    return run


def resolve_inside(run_dir: Path, relative: str) -> Path | None:
    """Return `run_dir/relative` if it is an existing file inside run_dir, else None.

    Paths come from JSON files in the run directory; refusing ones that leave it keeps a crafted
    index from embedding arbitrary files into the page.
    """
    root = Path(run_dir).resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def data_uri(data: bytes, mime: str) -> str:
    """Embed bytes as a `data:` URI so the page needs no other file."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def png_data_uri(data: bytes) -> str:
    """Embed PNG bytes as a `data:` URI."""
    return data_uri(data, "image/png")


def atomic_write(path: Path, data: bytes) -> Path:
    """Write bytes to a temp file beside `path`, then rename, so readers never see half a file."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return path


def _run_fix(run_dir: Path) -> str:
    """How to create the run directory; names the suite when the path is `runs/<suite>/<run-id>`."""
    suite = run_dir.parent.name if run_dir.parent.parent.name == "runs" else "<suite>"
    return (
        f"Run `python -m benchmark run --suite {suite}` first; "
        "it writes the run directory `runs/<suite>/<run-id>/`."
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise RunFileInvalid(
            f"Expected valid JSON in {path}, got: {err}. Re-run the suite to rewrite it."
        ) from err


def _read_parquet(path: Path, columns: tuple[str, ...], missing: list[str]) -> pd.DataFrame | None:
    if not path.is_file():
        missing.append(path.name)
        return None
    frame = pd.read_parquet(path)
    # DESIGN.md names the column "model"; the pipeline writes "variant". Accept both.
    if "variant" not in frame.columns and "model" in frame.columns:
        frame = frame.rename(columns={"model": "variant"})
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise RunFileInvalid(
            f"Expected columns {list(columns)} in {path}, got {list(frame.columns)}. Re-run the suite."
        )
    return frame
