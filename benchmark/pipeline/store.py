"""The run directory: ``runs/<suite>/<run-id>/`` with resolved config, provenance and results."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.images import write_png
from benchmark.pipeline.config import PROJECT_DIR, Suite
from benchmark.stats.schema import read_results, write_results
from cxr_kernel import run_files
from cxr_kernel.atomic import atomic_path, write_bytes, write_text
from cxr_kernel.errors import UserError
from cxr_kernel.run_files import RunFileInvalid, RunFileMissing
from cxr_kernel.run_layout import CONFIG, FILES_RECORD, MANIFEST, RESULTS, SUMMARY
from cxr_kernel.run_summary import RunSummary

PACKAGES = (
    "numpy",
    "scipy",
    "scikit-image",
    "scikit-learn",
    "statsmodels",
    "pandas",
    "pyarrow",
    "torch",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "onnx",
    "onnxruntime",
    "pillow",
    "seaborn",
    "jinja2",
    "pydantic",
)


CONFIG_FILE = CONFIG
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def check_run_id(run_id: str) -> str:
    """``run_id`` if it names one folder (letters, digits, ``.``, ``_``, ``-``); else ``UserError``."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise UserError(
            f"Expected --run-id of letters, digits, '.', '_' and '-' starting with a letter or digit "
            f"(at most 128), got {run_id!r}: it names one folder inside the runs directory. "
            "Pick another id, or leave --run-id out for a timestamp."
        )
    return run_id


def resolved_config(suite: Suite) -> dict:
    """The suite as ``config.yaml`` stores it (YAML round trip, so a stored copy compares equal)."""
    return yaml.safe_load(yaml.safe_dump(suite.stored(), sort_keys=False))


def check_run_directory(directory: Path, runs_dir: Path, suite: Suite, *, overwrite: bool) -> None:
    """Refuse a run directory this run may not use; changes nothing.

    ``directory`` must lie inside ``runs_dir``. An existing one must hold a run of the same resolved
    config (it is then resumed), unless ``overwrite``; one of another config, or files that are no
    run, are refused with the fix.
    """
    directory, runs_dir = Path(directory).resolve(), Path(runs_dir).resolve()
    if not directory.is_relative_to(runs_dir) or directory == runs_dir:
        raise UserError(
            f"Run directory {directory} is outside the runs directory {runs_dir}; check the suite name "
            "and --run-id."
        )
    if not directory.is_dir() or not any(directory.iterdir()) or overwrite:
        return
    try:
        previous = yaml.safe_load((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        previous = None
    if not isinstance(previous, dict):
        raise UserError(
            f"{directory} already holds files but no readable {CONFIG_FILE}, so it is not a run to "
            "resume. Use another --run-id, or --overwrite to clear it."
        )
    current = resolved_config(suite)
    differing = sorted(key for key in {*previous, *current} if previous.get(key) != current.get(key))
    if differing:
        raise UserError(
            f"{directory} holds a run of another config (differs in: {', '.join(differing)}). "
            "Use a new --run-id, or --overwrite to replace that run."
        )


def clear_run_directory(directory: Path) -> None:
    """Remove what an earlier run left in ``directory`` (checked first), so no stale file survives:
    a resumed run refills it from the shared cache."""
    if Path(directory).is_dir():
        shutil.rmtree(directory)


def prepare_run_directory(directory: Path, runs_dir: Path, suite: Suite, *, overwrite: bool) -> None:
    """:func:`check_run_directory`, then :func:`clear_run_directory`."""
    check_run_directory(directory, runs_dir, suite, overwrite=overwrite)
    clear_run_directory(directory)


def new_run_id(suite: Suite) -> str:
    config_hash = json.dumps(suite.stored(), sort_keys=True).encode()

    return f"{dt.datetime.now():%Y%m%d-%H%M%S}-{hashlib.sha256(config_hash).hexdigest()[:8]}"


def git_output(*arguments: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *arguments], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """The project's git commit and whether tracked files differ from it."""
    return {
        "git_commit": git_output("rev-parse", "HEAD"),
        "git_uncommitted_changes": bool(git_output("status", "--porcelain", "--untracked-files=no")),
    }


def environment(suite: Suite, device: str) -> dict[str, Any]:
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "packages": versions,
        **git_state(),
        "seed": suite.seed,
        "command": sys.argv,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


class RunStore:
    """The one writer and reader of a run directory's files: every write is atomic (each file complete
    or absent), and ``summary.json``, written last, records the sha256 of every other file. The
    directory appears with its first file, so a store can exist before a run is known not to be
    refused. Names are relative to the directory (``cxr_kernel.run_layout``)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def write_config(self, suite: Suite) -> None:
        self.write_text(CONFIG_FILE, yaml.safe_dump(suite.stored(), sort_keys=False))

    def write_text(self, name: str, text: str) -> Path:
        return write_text(self.directory / name, text)

    def write_bytes(self, name: str, data: bytes) -> Path:
        """A file written after the run (``run_layout.AFTER_THE_RUN``: the report, its figures and
        tables) or any other whole file."""
        return write_bytes(self.directory / name, data)

    def write_json(self, name: str, value: Any) -> Path:
        return self.write_text(name, json.dumps(value, indent=2, default=str, allow_nan=True))

    def write_csv(self, name: str, table: pd.DataFrame) -> Path:
        return self.write_text(name, table.to_csv(index=False))

    def write_table(self, name: str, table: pd.DataFrame) -> Path:
        path = self.directory / name
        with atomic_path(path) as temporary:
            table.to_parquet(temporary, index=False)
        return path

    def write_png(self, name: str, image) -> str:
        """(H, W) float image in [0, 1] as an 8-bit PNG; returns ``name`` for the records that cite it."""
        write_png(self.directory / name, image)
        return name

    def copy_file(self, source: Path, name: str) -> Path:
        """A copy of ``source`` (a training history beside cached weights) as ``name``."""
        path = self.directory / name
        with atomic_path(path) as temporary:
            shutil.copyfile(source, temporary)
        return path

    def write_results(self, results: pd.DataFrame) -> Path:
        """The tidy results table (``benchmark.stats.schema``), validated."""
        return write_results(self.directory / RESULTS, results)

    def write_checksums(self, images: pd.DataFrame) -> None:
        lines = [f"{row.sha256}  {row.image_id}" for row in images.itertuples()]
        self.write_text(MANIFEST, "\n".join(lines) + "\n")

    def write_summary(self, summary: RunSummary) -> Path:
        """``summary.json``, last: with the sha256 of every file written before it."""
        recorded = summary.model_copy(update={FILES_RECORD: run_files.record(self.directory)})
        recorded.model_fields_set.add(FILES_RECORD)
        return self.write_text(SUMMARY, recorded.to_json())

    # -- reading ------------------------------------------------------------------------------------
    def read_bytes(self, name: str) -> bytes | None:
        """The file ``name`` of the run directory (None when the run has none)."""
        path = self.directory / name
        return path.read_bytes() if path.is_file() else None

    def read_text(self, name: str) -> str | None:
        data = self.read_bytes(name)
        return None if data is None else data.decode("utf-8")

    def read_json(self, name: str) -> Any:
        """The JSON file ``name`` (None when absent); ``RunFileInvalid`` naming it when it is not JSON."""
        text = self.read_text(name)
        try:
            return None if text is None else json.loads(text)
        except json.JSONDecodeError as error:
            raise RunFileInvalid(
                f"Expected valid JSON in {self.directory / name}, got: {error}. "
                "Re-run the suite to rewrite it."
            ) from error

    def read_table(self, name: str, columns: Sequence[str] = ()) -> pd.DataFrame | None:
        """The parquet table ``name`` (None when absent); ``RunFileInvalid`` naming it when it lacks one of
        ``columns``. Column ``model`` of older tables is read as ``variant``."""
        path = self.directory / name
        if not path.is_file():
            return None
        frame = pd.read_parquet(path)
        if "variant" not in frame.columns and "model" in frame.columns:
            frame = frame.rename(columns={"model": "variant"})
        if any(c not in frame.columns for c in columns):
            raise RunFileInvalid(
                f"Expected columns {list(columns)} in {path}, got {list(frame.columns)}. Re-run the suite."
            )
        return frame

    def read_results(self) -> pd.DataFrame | None:
        """The tidy results table, validated (``benchmark.stats.schema.read_results``); None when absent."""
        path = self.directory / RESULTS
        return read_results(path) if path.is_file() else None

    def read_summary(self) -> RunSummary:
        """The run's summary, checked: ``RunFileMissing`` / ``RunFileInvalid`` naming the file and the
        fix when it is missing or malformed, ``ForeignRunFile`` when a file of the directory is not
        this run's."""
        path = self.directory / SUMMARY
        if not self.directory.is_dir():
            raise RunFileMissing(
                f"Expected a run directory, got {str(self.directory)!r} which does not exist. {self._fix()}"
            )
        if not path.is_file():
            raise RunFileMissing(f"Expected {path} (the run summary), but it does not exist. {self._fix()}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise RunFileInvalid(
                f"{path} is not UTF-8 text ({error}). Re-run the suite to rewrite it."
            ) from None
        summary = RunSummary.from_json(text, path)
        run_files.verify(self.directory, summary.files, summary.run_id)  # every file is this run's
        return summary

    def _fix(self) -> str:
        """How to create the run directory; names the suite when the path is ``runs/<suite>/<run-id>``."""
        suite = self.directory.parent.name if self.directory.parent.parent.name == "runs" else "<suite>"
        return (
            f"Run `python -m benchmark run --suite {suite}` first; "
            "it writes the run directory `runs/<suite>/<run-id>/`."
        )
