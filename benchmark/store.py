"""The run directory: ``runs/<suite>/<run-id>/`` with resolved config, provenance and results."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from benchmark.atomic import atomic_path, write_text
from benchmark.config import PROJECT_DIR, Suite

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
    "pillow",
    "seaborn",
    "jinja2",
    "pydantic",
)


def new_run_id(suite: Suite) -> str:
    config_hash = json.dumps(suite.model_dump(mode="json"), sort_keys=True).encode()

    return f"{dt.datetime.now():%Y%m%d-%H%M%S}-{hashlib.sha256(config_hash).hexdigest()[:8]}"


def _git(*arguments: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *arguments], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


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
        "git_commit": _git("rev-parse", "HEAD"),
        "git_uncommitted_changes": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "seed": suite.seed,
        "command": sys.argv,
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


class RunStore:
    """Writes a run's files atomically; each file is complete or absent."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def write_config(self, suite: Suite) -> None:
        write_text(
            self.directory / "config.yaml", yaml.safe_dump(suite.model_dump(mode="json"), sort_keys=False)
        )

    def write_json(self, name: str, value: Any) -> Path:
        return write_text(self.directory / name, json.dumps(value, indent=2, default=str, allow_nan=True))

    def write_table(self, name: str, table: pd.DataFrame) -> Path:
        path = self.directory / name
        with atomic_path(path) as temporary:
            table.to_parquet(temporary, index=False)
        return path

    def write_checksums(self, images: pd.DataFrame) -> None:
        lines = [f"{row.sha256}  {row.image_id}" for row in images.itertuples()]
        write_text(self.directory / "manifest.sha256", "\n".join(lines) + "\n")
