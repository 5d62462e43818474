"""Copies of shipped suites for tests: paths made absolute, so the copy runs from any folder."""

from pathlib import Path

import yaml

from benchmark.config import find_suite


def absolute_suite(folder: Path, name: str, *, changes=lambda raw: None) -> str:
    """Write suite ``name`` to ``folder`` with absolute paths, after ``changes(raw)`` edited its mapping."""
    source = find_suite(name)
    raw = yaml.safe_load(source.read_text())
    entries = [*raw["sr_models"], *raw.get("smoke", {}).get("sr_models", []), raw["classifier"], raw["data"]]
    for entry in entries:
        for key in ("weights", "manifest", "data_root"):
            if entry.get(key):
                entry[key] = str((source.parent / entry[key]).resolve())
    changes(raw)
    path = Path(folder) / f"{name}-{len(list(Path(folder).glob('*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)
