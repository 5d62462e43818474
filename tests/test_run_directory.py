"""Run directories cannot mix runs: a reused --run-id resumes only the same resolved config, another
config is refused with the fix (a new id, or --overwrite), and no file of an earlier run survives."""

import pytest
import yaml
from suite_files import RAW, run_cli

from benchmark.config import parse_suite
from benchmark.store import check_run_id, prepare_run_directory, resolved_config
from cxr_kernel.errors import UserError


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
