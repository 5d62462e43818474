from pathlib import Path

import pytest
import yaml

from benchmark.pipeline.config import available_suites, load_suite
from cxr_kernel.errors import UserError

MINIMAL = {
    "name": "t",
    "data": {"phantoms": {"train_per_class": 2, "test_per_class": 2, "size": 64}, "hr_size": 64},
    "cells": [{"scenario": "bicubic", "scale": 4}],
    "sr_models": [{"name": "bicubic", "model": "bicubic"}],
    "classifier": {"train": {"epochs": 1}},
}


def write_suite(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def with_changes(**sections):
    raw = {key: value for key, value in MINIMAL.items()}
    raw.update(sections)
    return raw


def test_minimal_suite_loads_into_typed_config(tmp_path):
    suite = load_suite(str(write_suite(tmp_path, MINIMAL)))
    assert suite.cells[0].label == "bicubic-x4"
    assert suite.data.phantoms.size == 64
    assert suite.seed == 0


@pytest.mark.parametrize("name", ["demo", "pneumonia-mini", "pneumonia"])
def test_shipped_suites_exist(name):
    assert name in available_suites()


def test_demo_and_its_smoke_block_load():
    assert load_suite("demo").name == "demo"
    smoke = load_suite("demo", smoke=True)
    assert smoke.data.max_eval_per_class == 5 and len(smoke.cells) == 1
    phantom_smoke = load_suite("demo", smoke=True, fallback=True)
    assert phantom_smoke.data.hr_size == 128 and phantom_smoke.data.phantoms is not None


def test_unknown_key_is_named_with_the_valid_ones(tmp_path):
    raw = with_changes(data={**MINIMAL["data"], "hr_sise": 64})
    with pytest.raises(UserError, match=r"unknown key 'data.hr_sise'.*Valid keys there: manifest, data_root"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_wrong_type_names_the_key_and_value(tmp_path):
    raw = with_changes(cells=[{"scenario": "bicubic", "scale": "four"}])
    with pytest.raises(UserError, match=r"cells.0.scale.*'four'"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_missing_manifest_file_is_named(tmp_path):
    raw = with_changes(data={"manifest": "nowhere.csv", "data_root": "."})
    with pytest.raises(UserError, match=r"data.manifest file not found: .*nowhere.csv"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_missing_official_weights_name_the_file_and_where_to_get_them(tmp_path):
    raw = with_changes(sr_models=[{"name": "r", "model": "realesrgan", "weights": "RealESRGAN_x4plus.pth"}])
    with pytest.raises(UserError, match=r"RealESRGAN_x4plus.pth.*github.com/xinntao/Real-ESRGAN"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_unknown_scenario_suggests_the_closest(tmp_path):
    raw = with_changes(cells=[{"scenario": "bicubik", "scale": 4}])
    with pytest.raises(UserError, match=r"Did you mean 'bicubic'"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_unknown_scenario_parameter_lists_the_valid_ones(tmp_path):
    raw = with_changes(cells=[{"scenario": "bicubic-noise", "scale": 4, "params": {"sigmaa": 0.1}}])
    with pytest.raises(UserError, match=r"cells\[0\] \(bicubic-noise\).*\['sigmaa'\].*Valid: sigma"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_duplicate_cell_names_must_be_told_apart(tmp_path):
    cells = [{"scenario": "bicubic", "scale": 4}, {"scenario": "bicubic", "scale": 4, "params": {}}]
    with pytest.raises(UserError, match="repeated: \\['bicubic-x4'\\]"):
        load_suite(str(write_suite(tmp_path, with_changes(cells=cells))))


def test_real_data_suite_without_data_root_says_how_to_give_it(tmp_path):
    from benchmark.pipeline.config import PROJECT_DIR

    raw = with_changes(data={"manifest": str(PROJECT_DIR / "data_manifests/pneumonia-mini.csv")})
    with pytest.raises(UserError, match="--data-root"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_cli_data_root_takes_precedence_over_the_yaml(tmp_path):
    suite = load_suite("pneumonia-mini", data_root=tmp_path)
    assert suite.data.data_root == tmp_path.resolve()


def test_unknown_suite_lists_available():
    with pytest.raises(UserError, match="Available: .*demo"):
        load_suite("dem0")


def test_smoke_without_block_is_refused(tmp_path):
    with pytest.raises(UserError, match="no `smoke:` block"):
        load_suite(str(write_suite(tmp_path, MINIMAL)), smoke=True)


def test_bad_scenario_parameter_value_is_caught_before_any_work(tmp_path):
    raw = with_changes(cells=[{"scenario": "bicubic-noise", "scale": 4, "params": {"sigma": -1}}])
    with pytest.raises(UserError, match=r"cells\[0\] \(bicubic-noise\).*sigma"):
        load_suite(str(write_suite(tmp_path, raw)))


def test_classifier_seeds_default_to_one_and_count_training_seeds_from_the_suites_seed(tmp_path):
    from benchmark.pipeline.classifier_setup import training_seeds

    suite = load_suite(str(write_suite(tmp_path, MINIMAL)))
    assert suite.classifier.seeds == 1 and training_seeds(suite.classifier, suite.seed) == [0]
    raw = with_changes(seed=7, classifier={"train": {"epochs": 1}, "seeds": 3})
    suite = load_suite(str(write_suite(tmp_path, raw)))
    assert training_seeds(suite.classifier, suite.seed) == [7, 8, 9]


def test_classifier_seeds_with_a_weights_file_are_refused_naming_both_keys(tmp_path):
    (tmp_path / "mine.keras").write_bytes(b"")
    raw = with_changes(classifier={"weights": "mine.keras", "seeds": 2})
    with pytest.raises(UserError, match=r"classifier.seeds 2.*classifier.weights.*remove `seeds`"):
        load_suite(str(write_suite(tmp_path, raw)))
    with pytest.raises(UserError, match=r"classifier.seeds"):
        load_suite(str(write_suite(tmp_path, with_changes(classifier={"train": {}, "seeds": 0}))))


def test_bootstrap_ci_takes_bca_or_percentile(tmp_path):
    assert load_suite(str(write_suite(tmp_path, MINIMAL))).stats.bootstrap_ci == "bca"
    with pytest.raises(UserError, match=r"stats.bootstrap_ci"):
        load_suite(str(write_suite(tmp_path, with_changes(stats={"bootstrap_ci": "bc"}))))


def test_bootstrap_train_needs_further_seeds(tmp_path):
    raw = with_changes(classifier={"train": {"epochs": 1}, "bootstrap_train": True})
    with pytest.raises(UserError, match=r"classifier.bootstrap_train.*classifier.seeds is 1.*seeds: K"):
        load_suite(str(write_suite(tmp_path, raw)))
    raw = with_changes(classifier={"train": {"epochs": 1}, "bootstrap_train": True, "seeds": 2})
    assert load_suite(str(write_suite(tmp_path, raw))).classifier.bootstrap_train


PANEL = [
    {"name": "cnn", "train": {"epochs": 1}},
    {"name": "cnn-small", "train": {"epochs": 1}, "input_size": 96},
]


def test_a_panel_names_each_classifier_and_the_first_is_the_suites_classifier(tmp_path):
    raw = {key: value for key, value in MINIMAL.items() if key != "classifier"}
    suite = load_suite(str(write_suite(tmp_path, {**raw, "classifiers": PANEL})))
    assert [name for name, _ in suite.panel] == ["cnn", "cnn-small"]
    assert suite.classifier == suite.classifiers[0] and suite.panel[1][1].input_size == 96
    assert "classifiers" in suite.stored() and "classifier" not in suite.stored()
    single = load_suite(str(write_suite(tmp_path, MINIMAL)))
    assert single.panel == [(None, single.classifier)] and "classifiers" not in single.stored()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classifiers": PANEL}, r"not both"),  # beside the classifier block
        ({"classifier": None, "classifiers": [PANEL[0], PANEL[0]]}, r"classifier names must be unique.*cnn"),
        ({"classifier": None, "classifiers": [{**PANEL[0], "lr": 1}]}, r"unknown key 'classifiers.0.lr'"),
        (
            {"classifier": None, "classifiers": [{"train": {"epochs": 1}}]},
            r"classifiers.0.name: Field required",
        ),
        ({"classifier": None, "classifiers": [{**PANEL[0], "name": "../x"}]}, r"names its folder"),
        ({"classifier": None, "classifiers": [{**PANEL[0], "seeds": 0}]}, r"classifiers.0.seeds"),
        ({"classifier": None, "classifiers": []}, r"classifiers: List should have at least 1 item"),
        ({"classifier": None}, r"missing `classifier"),
    ],
)
def test_a_panel_is_validated_like_the_classifier_block(tmp_path, change, message):
    raw = {**MINIMAL, **change}
    raw = {key: value for key, value in raw.items() if value is not None}
    with pytest.raises(UserError, match=message):
        load_suite(str(write_suite(tmp_path, raw)))


def test_a_panel_members_missing_weights_file_is_named(tmp_path):
    raw = {key: value for key, value in MINIMAL.items() if key != "classifier"}
    raw["classifiers"] = [PANEL[0], {"name": "given", "weights": "absent.keras"}]
    with pytest.raises(UserError, match=r"classifiers\[given\].weights file not found: .*absent.keras"):
        load_suite(str(write_suite(tmp_path, raw)))


@pytest.mark.parametrize("name", ["kermany-224", "kermany-test-hr", "pneumonia"])
def test_the_real_data_suites_evaluate_the_reference_cnn_and_the_second_architecture(name):
    from benchmark.pipeline.config import parse_suite

    source = available_suites()[name]
    suite = parse_suite(yaml.safe_load(source.read_text()), source=source)
    assert [(member, config.type) for member, config in suite.panel] == [
        ("reference-cnn", "keras"),
        ("mobilenet-v2", "torch"),
    ]
    assert all((source.parent / config.weights).is_file() for _, config in suite.panel)


@pytest.mark.parametrize(
    ("classifier", "message"),
    [
        (
            {"type": "tensorflow", "train": {}},
            "expected one of keras, onnx, torch, torchscript, torchxrayvision",
        ),
        ({"type": "torch", "train": {}}, "trains an architecture; name one of"),
        (
            {"type": "torch", "arch": "vgg16", "train": {}},
            "'vgg16': type torch takes one of mobilenet_v2, resnet18",
        ),
        ({"arch": "resnet18", "train": {}}, "type keras takes none"),
        ({"type": "torchxrayvision", "train": {}}, "type torchxrayvision trains nothing"),
        (
            {"type": "torch", "weights": "m.pt", "preprocessing": {"size": 64}},
            "type torch takes no `preprocessing`",
        ),
    ],
)
def test_classifier_type_arch_and_preprocessing_are_checked_by_backend(classifier, message):
    from benchmark.pipeline.config import ClassifierConfig

    with pytest.raises(ValueError, match=message):
        ClassifierConfig(**classifier)
