"""Read a run directory `runs/<suite>/<run-id>/` for the report.

Only `summary.json` is required; every other file is optional here and the page says plainly which
ones were missing, so a report of a partial run is still readable.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from benchmark.pipeline.store import RunStore
from benchmark.stats.inputs import PREDICTION_COLUMNS
from benchmark.stats.schema import analysis_inputs
from cxr_kernel.run_files import RunFileInvalid
from cxr_kernel.run_layout import CONFIG, ENVIRONMENT, EXAMPLES_INDEX, MANIFEST, PERF, PREDICTIONS, RESULTS
from cxr_kernel.run_summary import RunSummary
from reports.formatting import adopt_metric_specs


@dataclass
class RunData:
    """Everything the report reads from one run directory; optional parts are None when absent."""

    run_dir: Path
    summary: RunSummary
    config_text: str | None = None
    environment: dict[str, Any] | None = None
    manifest_lines: list[str] | None = None
    manifest_sha256: str | None = None
    results: pd.DataFrame | None = None
    predictions: pd.DataFrame | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)
    perf: dict[str, Any] | None = None  # `python -m benchmark perf --out <run dir>`, when it was run
    missing: list[str] = field(default_factory=list)


def load_summary(run_dir: Path) -> RunSummary:
    """Read and check `run_dir/summary.json` (``RunStore.read_summary``), and adopt the run's own
    metric labels and directions.

    Raises
    ------
    RunFileMissing
        If the directory or summary.json does not exist (message names the path and the fix).
    RunFileInvalid
        If summary.json is not a run summary (not JSON, or a key missing or malformed).
    """
    summary = RunStore(run_dir).read_summary()
    if summary.metric_specs is not None:
        adopt_metric_specs(summary.metric_specs)  # the run's own labels and directions
    return summary


def load_run(run_dir: Path) -> RunData:
    """Read summary.json (required) and the optional provenance, result and example files."""
    run_dir = Path(run_dir)
    run = RunData(run_dir=run_dir, summary=load_summary(run_dir))
    store = RunStore(run_dir)

    def listed(name: str, value: Any) -> Any:
        if value is None:
            run.missing.append(name)
        return value

    run.config_text = listed(CONFIG, store.read_text(CONFIG))
    run.environment = listed(ENVIRONMENT, store.read_json(ENVIRONMENT))
    manifest = listed(MANIFEST, store.read_bytes(MANIFEST))
    if manifest is not None:
        run.manifest_sha256 = hashlib.sha256(manifest).hexdigest()
        run.manifest_lines = [line for line in manifest.decode("utf-8").splitlines() if line.strip()]
    results = listed(RESULTS, store.read_results())
    if results is not None:  # the tidy results table; the report shows its image-quality rows
        run.results = analysis_inputs(results)[0]
    run.predictions = listed(PREDICTIONS, store.read_table(PREDICTIONS, PREDICTION_COLUMNS))
    run.perf = store.read_json(PERF)  # optional: a run is complete without it, never listed as missing
    examples = listed(EXAMPLES_INDEX, store.read_json(EXAMPLES_INDEX))
    if examples is not None:
        if not isinstance(examples, list):
            raise RunFileInvalid(
                f"Expected a JSON list of examples in {run_dir / EXAMPLES_INDEX}, "
                f"got {type(examples).__name__}."
            )
        run.examples = examples
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
