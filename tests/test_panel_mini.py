"""The shipped `panel-mini` suite in smoke mode: every member it names classifies every variant of the
shipped mini images, and the panel section covers them all. A member whose file is not in this checkout
is left out, and the test says which."""

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark.cli import main
from benchmark.config import find_suite
from tests.suite_files import absolute_suite

pytestmark = pytest.mark.slow


def _present(raw: dict, folder: Path) -> tuple[list[dict], list[str]]:
    """The suite's members whose files exist, and why each other one is left out."""
    present, absent = [], []
    for member in raw["classifiers"]:
        path = Path(member.get("weights") or "")
        if member.get("weights") and not (path if path.is_absolute() else folder / path).is_file():
            absent.append(f"{member['name']} ({member.get('type', 'keras')}): {path} is not in this checkout")
        else:
            present.append(member)
    return present, absent


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panel-mini")
    source = find_suite("panel-mini")
    members, absent = _present(yaml.safe_load(source.read_text()), source.parent)
    for reason in absent:
        warnings.warn(f"panel-mini runs without {reason}", stacklevel=1)
    if len(members) < 2:
        pytest.skip(f"panel-mini needs two members present; left out: {'; '.join(absent)}")

    def keep_present(raw: dict) -> None:
        raw["classifiers"] = [m for m in raw["classifiers"] if m["name"] in {p["name"] for p in members}]

    suite = absolute_suite(folder, "panel-mini", changes=keep_present)
    assert main(["run", "--suite", suite, "--smoke", "--runs-dir", str(folder / "runs"), "--quiet"]) == 0
    (directory,) = (folder / "runs" / "panel-mini").iterdir()
    return directory, [m["name"] for m in members]


def test_every_member_classifies_every_variant(run):
    directory, names = run
    summary = json.loads((directory / "summary.json").read_text())
    panel = summary["panel"]
    assert panel["classifiers"] == names and [m["name"] for m in panel["members"]] == names
    stored = pd.read_parquet(directory / "predictions_panel.parquet")
    primary = pd.read_parquet(directory / "predictions.parquet")
    for name in names:
        rows = stored[stored["classifier"] == name]
        assert len(rows) == len(primary) and rows["prob"].between(0, 1).all()
        assert set(rows["variant"]) == set(primary["variant"])
    first = stored[stored["classifier"] == names[0]].drop(columns=["classifier", "seed"])
    pd.testing.assert_frame_equal(first.reset_index(drop=True), primary)
    assert len({m["sha256"] for m in panel["members"]}) == len(names)
    html = (directory / "report.html").read_text()
    assert "Classifier panel" in html and f"of {len(names)} classifiers" in html
