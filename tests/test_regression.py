"""The regression check: figures read from a run, per-figure tolerances, the verdict table, baseline
rewrites, the pneumonia-mini suite and its phantom fallback, and a real perturbation caught end to end."""

import json

import pandas as pd
import pytest
import yaml

from benchmark import regression
from benchmark.cli import main
from benchmark.config import PROJECT_DIR, find_suite, load_suite
from benchmark.errors import UserError


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
    summary = {"suite": suite, "n_images": {"eval": 2, "train": 4}, "tables": tables}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    pd.DataFrame(
        {"cell": "c", "variant": "HR", "image_id": ["a", "b"], "label": [0, 1], "prob": list(probs)}
    ).to_parquet(run_dir / "predictions.parquet")
    return run_dir


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
    assert main(["check", str(write_run(tmp_path / "within", psnr=30.005)), "--baseline", str(baseline)]) == 0
    assert main(["check", str(write_run(tmp_path / "far", psnr=31)), "--baseline", str(baseline)]) == 1
    assert main(["check", str(tmp_path / "far"), "--baseline", str(baseline), "--tolerance", "0.1"]) == 0


def test_a_figure_missing_from_the_run_fails_and_a_new_one_passes(tmp_path, capsys):
    baseline = tmp_path / "baseline.json"
    run = write_run(tmp_path / "run")
    regression.write_baseline(run, baseline)
    stored = json.loads(baseline.read_text())
    stored["figures"]["quality/c/bicubic/ssim"] = 0.9
    del stored["figures"]["quality/c/bicubic/psnr"]
    baseline.write_text(json.dumps(stored))
    assert main(["check", str(run), "--baseline", str(baseline)]) == 1
    verdicts = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert verdicts["quality/c/bicubic/ssim"] == "MISSING" and verdicts["quality/c/bicubic/psnr"] == "new"


def test_updating_a_baseline_keeps_its_tolerances_and_rewrites_its_figures(tmp_path):
    baseline = tmp_path / "baseline.json"
    regression.write_baseline(write_run(tmp_path / "first"), baseline)
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
    regression.write_baseline(write_run(tmp_path / "a", suite="pneumonia-mini"), baseline)
    with pytest.raises(UserError, match="pneumonia-mini-phantom.json"):
        regression.compare(write_run(tmp_path / "b", suite="pneumonia-mini-phantom"), baseline)
    with pytest.raises(UserError, match="absent.json not found.*update-baseline"):
        regression.compare(tmp_path / "a", tmp_path / "absent.json")


def test_check_needs_exactly_one_of_a_run_dir_and_a_suite(tmp_path, capsys):
    assert main(["check", "--baseline", str(tmp_path / "b.json")]) == 2
    assert main(["check", str(tmp_path), "--suite", "demo"]) == 2
    assert "not both" in capsys.readouterr().err


def test_mini_suite_covers_two_scenarios_two_scales_every_learned_model_and_both_data_sources():
    for fallback in (False, True):
        suite = load_suite("pneumonia-mini", data_root=PROJECT_DIR, fallback=fallback)
        assert len({c.scenario for c in suite.cells}) >= 2 and len({c.scale for c in suite.cells}) >= 2
        assert {"bicubic", "srgan", "esrgan", "realesrgan"} <= {m.model for m in suite.sr_models}
        assert suite.classifier.train is not None
        assert (suite.data.phantoms is not None) is fallback
    assert load_suite("pneumonia-mini", fallback=True).name == "pneumonia-mini-phantom"
    assert load_suite("pneumonia-mini", data_root=PROJECT_DIR).name == "pneumonia-mini"


def test_missing_real_data_falls_back_unless_a_data_root_is_given(tmp_path, capsys):
    raw = yaml.safe_load(find_suite("pneumonia-mini").read_text())
    raw["data"] = {**raw["data"], "manifest": str(PROJECT_DIR / "data_manifests" / "pneumonia-mini.csv")}
    raw["data"]["data_root"] = str(tmp_path / "absent")
    (tmp_path / "mini.yaml").write_text(yaml.safe_dump(raw))
    assert load_suite(str(tmp_path / "mini.yaml")).data.phantoms is not None
    assert "not found" in capsys.readouterr().err
    given = load_suite(str(tmp_path / "mini.yaml"), data_root=tmp_path / "absent")
    assert given.data.phantoms is None and given.name == "pneumonia-mini"
    with pytest.raises(UserError, match="no `fallback:` block"):
        load_suite("demo", fallback=True)


@pytest.mark.parametrize("path", sorted(regression.BASELINE_DIR.glob("*.json")), ids=lambda path: path.stem)
def test_committed_baselines_name_their_suite_and_give_every_figure_a_tolerance(path):
    baseline = regression.read_baseline(path)
    assert baseline["suite"] == path.stem.removesuffix("-smoke")
    assert list(baseline["tolerances"])[-1] == "*"
    figures = baseline["figures"]
    assert any(key.startswith("predictions/") for key in figures) and any("/auroc" in key for key in figures)


@pytest.mark.slow
def test_check_fails_and_names_the_metric_when_a_degradation_parameter_moves(tmp_path, capsys):
    """The phantom smoke run, checked against its own baseline, then with the noise sigma of its
    bicubic-noise cell perturbed (0.01 -> 0.03) in a copy of the suite: the check must fail."""
    raw = yaml.safe_load(find_suite("pneumonia-mini").read_text())
    baseline, suite = tmp_path / "baseline.json", tmp_path / "mini.yaml"
    common = ["--fallback", "--smoke", "--runs-dir", str(tmp_path / "runs"), "--baseline", str(baseline)]

    suite.write_text(yaml.safe_dump(raw))
    assert main(["check", "--suite", str(suite), *common, "--update-baseline", "--quiet"]) == 0
    assert main(["check", "--suite", str(suite), *common, "--quiet"]) == 0
    capsys.readouterr()

    (cell,) = raw["fallback"]["smoke"]["cells"]
    cell["params"]["sigma"] = 0.03
    suite.write_text(yaml.safe_dump(raw))
    assert main(["check", "--suite", str(suite), *common, "--quiet"]) == 1
    out = capsys.readouterr().out
    message = out[out.index("REGRESSION:") :]
    assert "quality/bicubic-noise-x4/bicubic/psnr" in message
    assert "quality/bicubic-noise-x4/bicubic/ssim" in message
