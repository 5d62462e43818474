"""Run directories cannot mix runs: a reused --run-id resumes only the same resolved config, another
config is refused with the fix (a new id, or --overwrite), and no file of an earlier run survives."""

import pytest
import yaml

from benchmark.pipeline.config import parse_suite
from benchmark.pipeline.store import check_run_id, prepare_run_directory, resolved_config
from cxr_kernel.errors import UserError
from tests.support.suite_files import RAW, run_cli


def suite(**changes):
    return parse_suite({**RAW, **changes}, source="tiny.yaml")


def earlier_run(directory, config):
    """A finished run's directory: its config and a few outputs, one of them only some runs write."""
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(resolved_config(config), sort_keys=False))
    (directory / "summary.json").write_text('{"seed": 0}')
    (directory / "skipped_images.csv").write_text("image_id,split,reason,detail\n")
    (directory / "examples").mkdir()
    (directory / "examples" / "old.png").write_bytes(b"png")


def test_same_config_resumes_and_no_stale_file_survives(tmp_path):
    run = tmp_path / "runs" / "tiny" / "r"
    earlier_run(run, suite())
    prepare_run_directory(run, tmp_path / "runs", suite(), overwrite=False)
    assert not run.exists() or not any(run.iterdir())


def test_another_config_is_refused_naming_what_differs_and_the_fix(tmp_path):
    run = tmp_path / "runs" / "tiny" / "r"
    earlier_run(run, suite())
    with pytest.raises(UserError, match=r"another config \(differs in: seed\).*new --run-id.*--overwrite"):
        prepare_run_directory(run, tmp_path / "runs", suite(seed=1), overwrite=False)
    assert (run / "summary.json").read_text() == '{"seed": 0}'  # nothing touched


def test_overwrite_clears_a_run_of_another_config(tmp_path):
    run = tmp_path / "runs" / "tiny" / "r"
    earlier_run(run, suite())
    prepare_run_directory(run, tmp_path / "runs", suite(seed=1), overwrite=True)
    assert not run.exists()


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    run = tmp_path / "runs" / "tiny" / "r"
    run.mkdir(parents=True)
    (run / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=r"no readable config.yaml.*--overwrite"):
        prepare_run_directory(run, tmp_path / "runs", suite(), overwrite=False)


@pytest.mark.parametrize("run_id", ["../../x", "..", ".", "a/b", "/tmp/x", "", "-x", "a" * 129])
def test_run_ids_that_leave_the_runs_directory_are_refused(run_id):
    with pytest.raises(UserError, match="--run-id"):
        check_run_id(run_id)


def test_run_directory_outside_the_runs_directory_is_refused(tmp_path):
    with pytest.raises(UserError, match="outside the runs directory"):
        prepare_run_directory(tmp_path / "elsewhere", tmp_path / "runs", suite(), overwrite=False)


def test_cli_refuses_a_run_id_escaping_the_runs_directory_in_one_line(tmp_path, capsys):
    assert run_cli(tmp_path, RAW, "--run-id", "../../x") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--run-id" in error
    assert not (tmp_path / "x").exists() and not (tmp_path.parent / "x").exists()


def test_cli_refuses_a_suite_named_dot_dot(tmp_path, capsys):
    assert run_cli(tmp_path, {**RAW, "name": ".."}, "--run-id", "r") == 2
    assert "name" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_cli_refuses_a_reused_run_id_with_another_config(tmp_path, capsys):
    earlier_run(tmp_path / "runs" / "tiny" / "r", suite())
    assert run_cli(tmp_path, {**RAW, "seed": 1}, "--run-id", "r") == 2
    error = capsys.readouterr().err
    assert "differs in: seed" in error and "--overwrite" in error and error.count("\n") == 1


def test_a_refused_rerun_leaves_the_earlier_run_in_place(tmp_path, capsys):
    """The directory is cleared only once every check before work has passed (here: bad SR weights)."""
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not weights")
    raw = {**RAW, "sr_models": [*RAW["sr_models"], {"name": "m", "model": "esrgan", "weights": str(bad)}]}
    run = tmp_path / "runs" / "tiny" / "r"
    earlier_run(run, parse_suite(raw, source="tiny.yaml"))
    assert run_cli(tmp_path, raw, "--run-id", "r") == 2
    assert str(bad) in capsys.readouterr().err
    assert (run / "summary.json").read_text() == '{"seed": 0}'


def _leaky_manifest(tmp_path):
    """Eight 64-px images; patient p1 has one train and one test image (the leakage check refuses it)."""
    import numpy as np
    from PIL import Image

    from benchmark.manifest import sha256_file

    rng = np.random.default_rng(0)
    rows = ["path,label,split,sha256,patient_id"]
    for index, (label, split, patient) in enumerate(
        [
            ("NORMAL", "train", "p1"),
            ("PNEUMONIA", "train", "p2"),
            ("NORMAL", "train", "p3"),
            ("PNEUMONIA", "train", "p4"),
            ("NORMAL", "test", "p1"),
            ("NORMAL", "test", "p6"),
            ("PNEUMONIA", "test", "p5"),
            ("PNEUMONIA", "test", "p7"),
        ]
    ):
        path = tmp_path / "images" / f"{index}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(path)
        rows.append(f"images/{index}.png,{label},{split},{sha256_file(path)},{patient}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    data = {"manifest": str(tmp_path / "m.csv"), "data_root": str(tmp_path), "hr_size": 32}
    return {**RAW, "data": data}


def test_a_run_refused_by_the_leakage_check_leaves_nothing_that_blocks_the_corrected_run(tmp_path, capsys):
    """Before: the refused run left config.yaml, environment.json and manifest.sha256, and the corrected
    config under the same --run-id was refused as "another config"."""
    raw = _leaky_manifest(tmp_path)
    run = tmp_path / "runs" / "tiny" / "r"
    assert run_cli(tmp_path, raw, "--run-id", "r") == 2
    assert "allow_test_overlap" in capsys.readouterr().err
    assert not run.exists() or not any(run.iterdir())
    corrected = {**raw, "classifier": {**raw["classifier"], "allow_test_overlap": True}}
    assert run_cli(tmp_path, corrected, "--run-id", "r") == 0
    assert (run / "summary.json").is_file()


def test_a_run_refused_for_a_bad_image_leaves_the_earlier_run_in_place(tmp_path, capsys):
    raw = _leaky_manifest(tmp_path)
    (tmp_path / "images" / "5.png").write_bytes(b"not a png")
    run = tmp_path / "runs" / "tiny" / "r"
    earlier_run(run, parse_suite(raw, source="tiny.yaml"))
    assert run_cli(tmp_path, raw, "--run-id", "r") == 2
    assert "5.png" in capsys.readouterr().err
    assert (run / "summary.json").read_text() == '{"seed": 0}'
    assert (run / "examples" / "old.png").is_file()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two finished tiny runs of different seeds (their predictions differ)."""
    folder = tmp_path_factory.mktemp("two")
    assert run_cli(folder, RAW, "--run-id", "a") == 0
    assert run_cli(folder, {**RAW, "seed": 1}, "--run-id", "b") == 0
    return folder / "runs" / "tiny" / "a", folder / "runs" / "tiny" / "b"


def _copy_run(source, target):
    import shutil

    shutil.copytree(source, target)
    return target


@pytest.mark.parametrize(
    "foreign",
    ["predictions.parquet", "results.parquet", "config.yaml", "manifest.sha256", "classifier/history.csv"],
)
def test_a_file_of_another_run_is_refused_by_report_compare_and_check(two_runs, tmp_path, capsys, foreign):
    """Before: a run's summary.json with another run's tables rendered with exit 0 (the stored HR AUROC
    said one thing, the ROC curve drawn from the other run's predictions another)."""
    import shutil

    from benchmark.commands.cli import main
    from benchmark.pipeline import regression

    a, b = two_runs
    mixed = _copy_run(a, tmp_path / "mixed")
    assert (mixed / foreign).read_bytes() != (b / foreign).read_bytes()
    shutil.copyfile(b / foreign, mixed / foreign)
    for argv in (["report", str(mixed)], ["compare", str(mixed), str(b), "--out", str(tmp_path / "c.html")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"{mixed / foreign} does not belong to run a" in err
    with pytest.raises(UserError, match=f"{foreign} does not belong to run a"):
        regression.run_figures(mixed)


def test_the_default_comparison_page_does_not_make_run_a_refuse_itself(two_runs, tmp_path):
    """Before: `compare a b` wrote compare_<suite>_<id>.html into run a, which `report a` (and a second
    `compare a b`) then refused as a file the run did not write."""
    from benchmark.commands.cli import main

    a, b = two_runs
    own = _copy_run(a, tmp_path / "own")
    for argv in (["compare", str(own), str(b)], ["report", str(own)], ["compare", str(own), str(b)]):
        assert main(argv) == 0
    assert [p.name for p in (own / "comparisons").iterdir()] == [f"{b.parent.name}_{b.name}.html"]


def test_a_file_the_run_did_not_write_is_refused(two_runs, tmp_path, capsys):
    from benchmark.commands.cli import main

    a, b = two_runs
    mixed = _copy_run(a, tmp_path / "extra")
    (mixed / "predictions_seeds.parquet").write_bytes((b / "predictions.parquet").read_bytes())
    assert main(["report", str(mixed)]) == 2
    assert (
        "predictions_seeds.parquet does not belong to run a: it did not write it" in capsys.readouterr().err
    )


def test_the_report_and_perf_files_written_after_the_run_are_not_refused(two_runs, tmp_path):
    from benchmark.commands.cli import main

    mixed = _copy_run(two_runs[0], tmp_path / "later")
    (mixed / "perf.json").write_text("{}")
    assert main(["report", str(mixed)]) == 0
    assert main(["report", str(mixed)]) == 0  # its own report, figures and tables from the first render


def test_a_run_directory_without_the_record_is_read_with_a_warning(two_runs, tmp_path, capsys):
    import json

    from benchmark.commands.cli import main

    old = _copy_run(two_runs[0], tmp_path / "old")
    summary = json.loads((old / "summary.json").read_text())
    del summary["files"]
    (old / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(old)]) == 0
    err = capsys.readouterr().err
    assert "records no checksums of the run's files" in err and "--run-id a" in err
