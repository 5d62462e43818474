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
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.config import PROJECT_DIR, Suite
from cxr_kernel.atomic import atomic_path, write_text
from cxr_kernel.errors import UserError
from cxr_kernel.run_layout import CONFIG, MANIFEST

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
    """Writes a run's files atomically; each file is complete or absent. The directory appears with its
    first file, so a store can exist before a run is known not to be refused."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def write_config(self, suite: Suite) -> None:
        write_text(self.directory / CONFIG_FILE, yaml.safe_dump(suite.stored(), sort_keys=False))

    def write_json(self, name: str, value: Any) -> Path:
        return write_text(self.directory / name, json.dumps(value, indent=2, default=str, allow_nan=True))

    def write_table(self, name: str, table: pd.DataFrame) -> Path:
        path = self.directory / name
        with atomic_path(path) as temporary:
            table.to_parquet(temporary, index=False)
        return path

    def write_checksums(self, images: pd.DataFrame) -> None:
        lines = [f"{row.sha256}  {row.image_id}" for row in images.itertuples()]
        write_text(self.directory / MANIFEST, "\n".join(lines) + "\n")
