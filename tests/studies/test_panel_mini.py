"""The shipped `panel-mini` suite in smoke mode: every member it names classifies every variant of the
shipped mini images, and the panel section covers them all. The torchxrayvision member runs with random
weights of its architecture when the library's release file is absent (nothing can be downloaded); any
other member whose file is not in this checkout is left out, and the test says which."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.commands.cli import main
from benchmark.pipeline.config import find_suite
from tests.support.suite_files import absolute_suite

pytestmark = pytest.mark.slow


def _random_densenet(path: Path) -> Path:
    """torchxrayvision's DenseNet-121 with seeded random weights, as a state dict."""
    import torch

    from classifiers.xrv_densenet import DenseNet

    torch.manual_seed(0)
    torch.save(DenseNet().state_dict(), path)
    return path


def _members(raw: dict, suite_folder: Path, folder: Path) -> tuple[list[dict], list[str]]:
    """The suite's members that can run here, and what was left out or replaced."""
    present, notes = [], []
    for member in raw["classifiers"]:
        path = Path(member["weights"])
        path = path if path.is_absolute() else suite_folder / path
        if path.is_file():
            present.append({**member, "weights": str(path.resolve())})
        elif member["type"] == "torchxrayvision":
            notes.append(f"{member['name']}: {path.name} absent, random DenseNet-121 weights instead")
            present.append({**member, "weights": str(_random_densenet(folder / "densenet-random.pt"))})
        else:
            notes.append(f"{member['name']} ({member['type']}) left out: {path} is not in this checkout")
    return present, notes


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panel-mini")
    source = find_suite("panel-mini")
    members, notes = _members(yaml.safe_load(source.read_text()), source.parent, folder)
    for note in notes:
        warnings.warn(f"panel-mini: {note}", stacklevel=1)
    if len(members) < 2:
        pytest.skip(f"panel-mini needs two members that run here: {'; '.join(notes)}")

    def runnable(raw: dict) -> None:
        raw["classifiers"] = members

    suite = absolute_suite(folder, "panel-mini", changes=runnable)
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


def test_the_onnx_export_gives_the_torch_members_probabilities(run):
    directory, names = run
    if not {"mobilenet-v2", "mobilenet-v2-onnx"} <= set(names):
        pytest.skip("the shipped MobileNetV2 (.pt and .onnx) is not in this checkout")
    stored = pd.read_parquet(directory / "predictions_panel.parquet")
    keys = ["cell", "variant", "image_id"]
    torch_p = stored[stored["classifier"] == "mobilenet-v2"].set_index(keys)["prob"]
    onnx_p = stored[stored["classifier"] == "mobilenet-v2-onnx"].set_index(keys)["prob"]
    difference = np.abs(torch_p - onnx_p.reindex(torch_p.index)).max()
    print(f"largest |P(torch) - P(onnx)|: {difference:.2e} over {len(torch_p)} images x variants")
    assert difference <= 1e-5
