"""The regression check: figures read from a run, per-figure tolerances, the verdict table, baseline
rewrites, the pinned pneumonia-mini suite, the demo's phantom fallback, and a real perturbation caught
end to end."""

import json

import pandas as pd
import pytest
import yaml

from benchmark.commands.cli import main
from benchmark.manifest import sha256_file
from benchmark.pipeline import regression
from benchmark.pipeline.config import PROJECT_DIR, find_suite, load_suite
from benchmark.pipeline.store import RunStore
from cxr_kernel import run_files
from cxr_kernel.errors import UserError
from tests.support.suite_files import absolute_suite


def write_run(run_dir, *, accuracy=0.75, psnr=30.0, suite="s", extra_rows=(), probs=(0.2, 0.9)):
    run_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        "quality": [
            {"cell": "c", "variant": "bicubic", "metric": "psnr", "n": 2, "mean": psnr, "ci_method": "t"}
        ],
        "classification": [
            {"cell": "c", "variant": "HR", "metric": "accuracy", "estimate": accuracy, "ci_method": "wilson"},
            *extra_rows,
        ],
        "flips": [{"cell": "c", "variant": "bicubic", "n": 2, "n_flips": 1, "flip_rate": 0.5}],
    }
    pd.DataFrame(
        {"cell": "c", "variant": "HR", "image_id": ["a", "b"], "label": [0, 1], "prob": list(probs)}
    ).to_parquet(run_dir / "predictions.parquet")
    summary = {"suite": suite, "run_id": run_dir.name, "n_images": {"eval": 2, "train": 4}, "tables": tables}
    summary["files"] = run_files.record(run_dir)  # as the pipeline records them
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


def baseline_from(run_dir, path):
    regression.write_baseline(path, RunStore(run_dir).read_summary().suite, regression.run_figures(run_dir))


def test_figures_cover_every_headline_table_and_ignore_descriptive_columns(tmp_path):
    figures = regression.run_figures(write_run(tmp_path / "run"))
    assert figures["quality/c/bicubic/psnr"] == 30.0
    assert figures["classification/c/HR/accuracy"] == 0.75
    assert figures["flips/c/bicubic/n_flips"] == 1 and "flips/c/bicubic/flip_rate" not in figures
    assert figures["data/n_eval_images"] == 2 and figures["data/n_train_images"] == 4
    assert len(figures["predictions/c/HR/labels_sha256"]) == 16


def test_rows_that_gain_a_threshold_or_a_text_column_get_distinct_names(tmp_path):
    rows = [
        {"cell": "c", "variant": "HR", "metric": "accuracy", "threshold": t, "estimate": e, "se": 0.1}
        for t, e in ((0.3, 0.6), (0.7, 0.8))
    ] + [{"cell": "c", "variant": "HR", "metric": "sensitivity", "rule": "youden", "estimate": 0.9}]
    figures = regression.run_figures(write_run(tmp_path / "run", extra_rows=rows))
    assert figures["classification/c/HR/threshold=0.3/accuracy"] == 0.6
    assert figures["classification/c/HR/threshold=0.7/accuracy"] == 0.8
    assert figures["classification/c/HR/rule=youden/sensitivity"] == 0.9


def test_prediction_hash_follows_the_predicted_labels_not_small_probability_changes(tmp_path):
    def label_hash(probs):
        figures = regression.run_figures(write_run(tmp_path / str(probs), probs=probs))
        return figures["predictions/c/HR/labels_sha256"]

    assert label_hash((0.2, 0.9)) == label_hash((0.3, 0.8)) != label_hash((0.6, 0.9))


def test_labels_within_the_band_around_the_threshold_are_counted_not_hashed(tmp_path):
    """A probability a hair from the threshold may land on either side on another CPU."""
    band = regression.LABEL_BAND

    def figures(probs):
        return regression.run_figures(write_run(tmp_path / str(probs), probs=probs))

    below, above = figures((0.2, 0.5 - band / 10)), figures((0.2, 0.5 + band / 10))
    assert below["predictions/c/HR/labels_sha256"] == above["predictions/c/HR/labels_sha256"]
    assert below["predictions/c/HR/near_threshold"] == above["predictions/c/HR/near_threshold"] == 1
    outside = figures((0.2, 0.5 + 2 * band))
    assert outside["predictions/c/HR/near_threshold"] == 0
    assert outside["predictions/c/HR/labels_sha256"] != above["predictions/c/HR/labels_sha256"]
    assert regression.tolerance_for("predictions/c/HR/near_threshold", regression.DEFAULT_TOLERANCES) is None


@pytest.mark.parametrize(
    ("expected", "actual", "tolerance", "passes"),
    [
        (30.0, 30.009, 0.01, True),
        (30.0, 30.02, 0.01, False),
        (100.0, 100.9, {"rel": 0.01}, True),
        (100.0, 101.1, {"rel": 0.01}, False),
        (0.0, 0.05, {"abs": 0.1, "rel": 0.01}, True),
        (3, 3, 0, True),
        (3, 4, 0, False),
        ("abc", "abd", "exact", False),
        (None, None, 0.1, True),
        (None, 1.0, 0.1, False),
        (1.0, 99.0, None, True),
    ],
)
def test_tolerance_forms(expected, actual, tolerance, passes):
    assert regression.within(expected, actual, tolerance) is passes


def test_first_matching_tolerance_pattern_wins():
    tolerances = {"quality/*/psnr": 0.01, "quality/*": {"rel": 0.1}, "*": "exact"}
    assert regression.tolerance_for("quality/c/bicubic/psnr", tolerances) == 0.01
    assert regression.tolerance_for("quality/c/bicubic/mse", tolerances) == {"rel": 0.1}
    assert regression.tolerance_for("flips/c/bicubic/n_flips", tolerances) == "exact"


def test_check_of_a_run_dir_prints_the_table_and_names_what_moved(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    good = write_run(tmp_path / "good")
    assert main(["check", str(good), "--baseline", str(baseline), "--update-baseline"]) == 0
    assert main(["check", str(good), "--baseline", str(baseline)]) == 0
    assert "OK:" in capsys.readouterr().out
    assert main(["check", str(write_run(tmp_path / "moved", accuracy=0.7)), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["figure", "baseline", "now", "tolerance", "verdict"]
    assert "REGRESSION: 1 of" in out and "classification/c/HR/accuracy: 0.75 -> 0.7 (tolerance 0)" in out
    assert (
        main(["check", str(write_run(tmp_path / "within", psnr=30.00005)), "--baseline", str(baseline)]) == 0
    )
    assert main(["check", str(write_run(tmp_path / "far", psnr=31)), "--baseline", str(baseline)]) == 1
    assert main(["check", str(tmp_path / "far"), "--baseline", str(baseline), "--tolerance", "0.1"]) == 0


def test_a_figure_missing_from_the_run_fails_and_a_new_one_passes(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    run = write_run(tmp_path / "run")
    baseline_from(run, baseline)
    stored = json.loads(baseline.read_text())
    stored["figures"]["quality/c/bicubic/ssim"] = 0.9
    del stored["figures"]["quality/c/bicubic/psnr"]
    baseline.write_text(json.dumps(stored))
    assert main(["check", str(run), "--baseline", str(baseline)]) == 1
    verdicts = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert verdicts["quality/c/bicubic/ssim"] == "MISSING" and verdicts["quality/c/bicubic/psnr"] == "new"


def test_updating_a_baseline_keeps_its_tolerances_and_rewrites_its_figures(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline_from(write_run(tmp_path / "first"), baseline)
    stored = json.loads(baseline.read_text())
    assert stored["tolerances"] == regression.DEFAULT_TOLERANCES and stored["suite"] == "s"
    stored["tolerances"] = {"quality/*": 5.0, "*": "exact"}
    baseline.write_text(json.dumps(stored))
    assert main(["check", str(write_run(tmp_path / "second", psnr=33.0)), "--baseline", str(baseline)]) == 0
    assert main(["check", str(tmp_path / "second"), "--baseline", str(baseline), "--update-baseline"]) == 0
    rewritten = json.loads(baseline.read_text())
    assert rewritten["tolerances"] == {"quality/*": 5.0, "*": "exact"}
    assert rewritten["figures"]["quality/c/bicubic/psnr"] == 33.0


def test_a_baseline_of_another_suite_is_refused_naming_the_right_one(tmp_path):
    baseline = tmp_path / "baseline.json"
    baseline_from(write_run(tmp_path / "a", suite="pneumonia-mini"), baseline)
    with pytest.raises(UserError, match="pneumonia-mini-phantom.json"):
        regression.compare(write_run(tmp_path / "b", suite="pneumonia-mini-phantom"), baseline)
    with pytest.raises(UserError, match="absent.json not found.*update-baseline"):
        regression.compare(tmp_path / "a", tmp_path / "absent.json")


def test_check_needs_exactly_one_of_a_run_dir_and_a_suite(tmp_path, capsys):
    assert main(["check", "--baseline", str(tmp_path / "b.json")]) == 2
    assert main(["check", str(tmp_path), "--suite", "demo"]) == 2
    assert "not both" in capsys.readouterr().err


def test_mini_suite_evaluates_pinned_files_that_match_their_record():
    """Every learned model and the classifier are loaded from files, none trained; pins.json holds
    their sha256 and the command that made them, from the training suite of the same models."""
    suite = load_suite("pneumonia-mini")
    assert len({c.scenario for c in suite.cells}) >= 2 and len({c.scale for c in suite.cells}) >= 2
    assert {"bicubic", "srgan", "esrgan", "realesrgan"} <= {m.model for m in suite.sr_models}
    assert suite.classifier.train is None and all(m.train is None for m in suite.sr_models)
    assert suite.data.data_root == PROJECT_DIR / "data" / "pneumonia-mini"
    pins = json.loads(
        (PROJECT_DIR / "data_manifests" / "pinned" / "pneumonia-mini" / "pins.json").read_text()
    )
    pinned = [m.weights for m in suite.sr_models if m.weights is not None] + [suite.classifier.weights]
    assert sorted(path.name for path in pinned) == sorted(pins["files"])
    for path in pinned:
        assert sha256_file(path) == pins["files"][path.name]["sha256"]
        assert path.stat().st_size < 2_000_000
    assert "pin --suite pneumonia-mini-train" in pins["command"]
    training = load_suite("pneumonia-mini-train")
    assert {m.name for m in training.sr_models} == {m.name for m in suite.sr_models if m.weights}


def test_the_shipped_mini_images_are_the_manifest_s(tmp_path):
    """The 180 shipped X-rays carry the manifest's checksums, so the study runs on any clone."""
    suite = load_suite("pneumonia-mini")
    table = pd.read_csv(suite.data.manifest)
    assert len(table) == 180
    for row in table.itertuples():
        assert sha256_file(suite.data.data_root / row.path) == row.sha256
    assert "CC BY 4.0" in (suite.data.data_root / "README.md").read_text()


def test_demo_runs_the_shipped_x_rays_and_phantoms_are_one_flag_away(tmp_path, capsys):
    demo = load_suite("demo")
    assert demo.data.phantoms is None and demo.classifier.weights is not None
    phantom = load_suite("demo", fallback=True)
    assert phantom.name == "demo-phantom" and phantom.data.phantoms is not None
    assert phantom.classifier.train is not None and phantom.classifier.weights is None
    raw = yaml.safe_load(find_suite("demo").read_text())
    raw["data"] = {**raw["data"], "manifest": str(PROJECT_DIR / "data_manifests" / "pneumonia-mini.csv")}
    raw["data"]["data_root"] = str(tmp_path / "absent")
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(raw))
    assert load_suite(str(tmp_path / "demo.yaml")).data.phantoms is not None
    assert "not found" in capsys.readouterr().err
    with pytest.raises(UserError, match="no `fallback:` block"):
        load_suite("pneumonia-mini", fallback=True)


@pytest.mark.parametrize("path", sorted(regression.BASELINE_DIR.glob("*.json")), ids=lambda path: path.stem)
def test_committed_baselines_name_their_suite_and_give_every_figure_a_tolerance(path):
    baseline = regression.read_baseline(path)
    assert baseline["suite"] == path.stem.removesuffix("-smoke")
    assert list(baseline["tolerances"])[-1] == "*"
    figures = baseline["figures"]
    assert any(key.startswith("predictions/") for key in figures) and any("/auroc" in key for key in figures)


@pytest.mark.slow
def test_check_fails_and_names_the_metric_when_a_degradation_parameter_moves(tmp_path, capsys):
    """The pinned smoke study passes its committed baseline; with the noise sigma of its bicubic-noise
    cell perturbed (0.01 -> 0.03) in a copy of the suite, the check must fail naming the IQ figures."""
    suite = absolute_suite(tmp_path, "pneumonia-mini")
    baseline = regression.default_baseline("pneumonia-mini", smoke=True)
    common = ["--smoke", "--runs-dir", str(tmp_path / "runs"), "--baseline", str(baseline), "--quiet"]

    assert main(["check", "--suite", suite, *common]) == 0
    capsys.readouterr()

    def more_noise(raw):
        raw["smoke"]["cells"][0]["params"]["sigma"] = 0.03

    assert (
        main(["check", "--suite", absolute_suite(tmp_path, "pneumonia-mini", changes=more_noise), *common])
        == 1
    )
    out = capsys.readouterr().out
    message = out[out.index("REGRESSION:") :]
    assert "quality/bicubic-noise-x4/bicubic/psnr" in message
    assert "quality/bicubic-noise-x4/bicubic/ssim" in message


@pytest.mark.parametrize(
    ("tolerance", "shown"),
    [
        (True, "true"),  # before: passed 0.90 against 0.10
        ({"rel": "0.1"}, '"0.1"'),  # before: TypeError traceback
        (-1, "-1"),  # before: failed even identical values
        (float("nan"), "NaN"),  # before: failed even identical values
        ("0.1", '"0.1"'),
        ({"abs": 0.1, "absolute": 1}, "1"),
        ([0.1], "list"),
    ],
)
def test_a_bad_tolerance_is_refused_in_one_line_naming_the_file_and_the_pattern(
    tmp_path, capsys, tolerance, shown
):
    baseline = tmp_path / "baseline.json"
    run = write_run(tmp_path / "run", accuracy=0.9)
    baseline_from(run, baseline)
    stored = json.loads(baseline.read_text())
    stored["tolerances"] = {"classification/*": tolerance, "*": "exact"}
    baseline.write_text(json.dumps(stored))
    assert main(["check", str(write_run(tmp_path / "moved", accuracy=0.1)), "--baseline", str(baseline)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"Baseline {baseline}: tolerances.'classification/*'" in err and shown in err
    assert "a tolerance is a number >= 0" in err


def test_a_baseline_that_is_not_json_is_one_line(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    baseline.write_text('{"figures": ')
    assert main(["check", str(write_run(tmp_path / "run")), "--baseline", str(baseline)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "is not valid JSON" in err


def test_a_bad_tolerance_option_is_refused(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    run = write_run(tmp_path / "run")
    baseline_from(run, baseline)
    assert main(["check", str(run), "--baseline", str(baseline), "--tolerance", "-1"]) == 2
    assert "--tolerance: '*'.abs = -1" in capsys.readouterr().err
