"""The typed run record (``cxr_kernel.run_summary.RunSummary``) and ``RunStore`` as its one writer and
reader: round trip, old files read and written back byte for byte, malformed files refused in one
line, and the pipeline writing no run file around the store."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pandas as pd
import pytest

from benchmark.pipeline.store import RunStore
from cxr_kernel.run_files import RunFileInvalid, RunFileMissing
from cxr_kernel.run_summary import (
    CellRecord,
    ClassifierRecord,
    ImageCounts,
    LpipsWeights,
    RunSummary,
    SkippedImages,
    Throughput,
    TrainingHistory,
)
from tests.support.paths import ROOT

#: summary.json of `run --suite pneumonia-mini --smoke` written by the pipeline at c6a09ec (before
#: RunSummary existed), its tables cut to two rows each and its paths made relative, then written
#: with the same json.dumps arguments: an old file as the old pipeline spelled it.
OLD_SUMMARY = ROOT / "tests" / "support" / "summary-c6a09ec.json"


def _summary() -> RunSummary:
    return RunSummary(
        suite="s",
        run_id="r1",
        created="2026-01-01T00:00:00+00:00",
        synthetic_data=False,
        data_note=None,
        n_images=ImageCounts(eval=4, train=8),
        skipped_images=SkippedImages(policy="skip", count=1, by_reason={"unreadable": 1}),
        declared_duplicates=[{"image_id": "b", "duplicate_of": "a", "split": "test"}],
        cells=[CellRecord(cell="bicubic-x4", scenario="bicubic", scale=4, params={})],
        variants=["HR", "bicubic"],
        statistics={"confidence": 0.95},
        leakage={"checked": True, "patients": []},
        tables={"classification": [{"cell": "bicubic-x4", "estimate": 0.75, "ci_low": None, "n": 4}]},
        throughput=[Throughput(cell="bicubic-x4", variant="bicubic", device="cpu", images_per_s=12.5)],
        training=[TrainingHistory(model="esrgan-x4", history_csv="training/esrgan-x4/history.csv")],
        classifier=ClassifierRecord(
            source="file",
            path="m.keras",
            sha256="f" * 64,
            classifier={"input": {"size": [112, 112], "resize": "nearest"}},
            history_csv=None,
            train_images_csv=None,
        ),
        lpips_weights=LpipsWeights(backbone="b.pth", linear="l.pth", sha256="0" * 64),
        metric_specs={"psnr": {"label": "PSNR"}},
    )


def test_a_written_summary_reads_back_equal_with_the_files_recorded(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "run")
    store.write_csv("skipped_images.csv", pd.DataFrame({"image_id": ["x"]}))
    store.write_summary(_summary())
    read = store.read_summary()
    assert read.model_dump(exclude={"files"}) == _summary().model_dump(exclude={"files"})
    assert set(read.files) == {"skipped_images.csv"}
    assert read.classifier.input_size == 112 and read.n_eval == 4
    assert "seeds" not in json.loads((tmp_path / "run" / "summary.json").read_text())  # unset: not written
    assert read.to_json() == (tmp_path / "run" / "summary.json").read_text()


def test_nan_in_a_table_survives_the_round_trip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.write_summary(_summary().model_copy(update={"tables": {"flips": [{"rate": float("nan")}]}}))
    assert math.isnan(store.read_summary().tables["flips"][0]["rate"])


def test_an_old_summary_reads_and_writes_back_byte_for_byte(tmp_path: Path) -> None:
    text = OLD_SUMMARY.read_text()
    summary = RunSummary.from_json(text, OLD_SUMMARY)
    assert summary.to_json() == text  # same keys, order and spelling as the pipeline at c6a09ec
    assert summary.suite == "pneumonia-mini" and summary.classifier.input_size == 112
    (tmp_path / "summary.json").write_text(text)
    assert RunStore(tmp_path).read_summary() == summary  # the directory holds none of the files it records


def test_a_summary_without_the_later_keys_reads_with_them_empty(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"suite": "s", "run_id": "r", "tables": {}}))
    summary = RunStore(tmp_path).read_summary()  # warns that no file checksums are recorded
    assert summary.classifier is None and summary.cells == [] and summary.n_eval is None
    assert summary.to_json() == json.dumps({"suite": "s", "run_id": "r", "tables": {}}, indent=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", r"summary\.json is not valid JSON .*Re-run the suite"),
        ("[1, 2]", r"summary\.json holds a JSON list"),
        (
            '{"suite": "s", "tables": {}}',
            r"summary\.json is not a run summary this version reads: run_id: Field required",
        ),
        ('{"suite": "s", "run_id": "r", "tables": {"flips": [1]}}', r"tables: .*list of records"),
        (
            '{"suite": "s", "run_id": "r", "tables": {}, "n_images": {"eval": "many"}}',
            r"n_images\.eval: Input should be a valid integer.*Re-run the suite",
        ),
        (
            '{"suite": "s", "run_id": "r", "tables": {}, "colour": 1}',
            r"colour: Extra inputs are not permitted",
        ),
    ],
)
def test_a_malformed_summary_is_refused_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "summary.json").write_text(text)
    with pytest.raises(RunFileInvalid, match=message):
        RunStore(tmp_path).read_summary()


def test_a_missing_summary_names_the_command_that_writes_it(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "demo" / "r1"
    run.mkdir(parents=True)
    with pytest.raises(RunFileMissing, match=r"summary\.json.*`python -m benchmark run --suite demo` first"):
        RunStore(run).read_summary()


# -- RunStore is the only writer of a run directory --------------------------------------------------
#: Calls that write or copy a file; in the pipeline only RunStore's methods (``store.x`` or
#: ``self.store.x``) may make them.
WRITERS = {
    "write_text",
    "write_bytes",
    "write_png",
    "write_json",
    "write_csv",
    "write_table",
    "write_results",
    "copy_file",
    "copyfile",
    "copy",
    "copy2",
    "copytree",
    "to_parquet",
    "to_csv",
    "save",
    "open",
    "mkdir",
}


def _is_store(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "store"
    return isinstance(node, ast.Attribute) and node.attr == "store" and isinstance(node.value, ast.Name)


def writes_around_the_store(source: str) -> list[str]:
    """Calls in ``source`` that write a file other than through a RunStore, and the modules it imports
    that write files (``shutil``, ``cxr_kernel.atomic``, ``benchmark.images``' writer)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in WRITERS and not (isinstance(func, ast.Attribute) and _is_store(func.value)):
                found.append(f"line {node.lineno}: {ast.unparse(func)}(...)")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(m in ("shutil", "cxr_kernel.atomic") for m in modules):
                found.append(f"line {node.lineno}: imports {modules[0]}")
    return found


def test_the_pipeline_writes_every_run_file_through_its_store() -> None:
    assert writes_around_the_store((ROOT / "benchmark/pipeline/study.py").read_text()) == []


def test_the_scan_finds_writes_around_the_store() -> None:
    source = (
        "import shutil\n"
        "def f(self, store, path, frame):\n"
        "    shutil.copyfile(path, self.directory / 'h.csv')\n"
        "    frame.to_parquet(path)\n"
        "    store.write_table('p.parquet', frame)\n"
        "    self.store.copy_file(path, 'h.csv')\n"
    )
    assert writes_around_the_store(source) == [
        "line 1: imports shutil",
        "line 3: shutil.copyfile(...)",
        "line 4: frame.to_parquet(...)",
    ]
