"""Hostile files are refused, never executed: pickled weights, Keras Lambda layers, YAML tags, HTML names.

Each payload would create a marker file if it ran; the tests check the refusal *and* that no marker
exists, and the pickle test shows its payload is live by running it through an unsafe loader.
"""

import json

import pytest
import torch

from benchmark.commands.cli import _parse_params
from benchmark.pipeline.config import load_suite
from cxr_kernel.errors import UserError
from sr_models.weights import load_state_dict


class CreatesAFile:
    """Unpickling this calls ``open(marker, "w")``: a stand-in for arbitrary code in a weights file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_pickle_payload_in_weights_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"params": {"conv_first.weight": CreatesAFile(marker)}}, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=r"evil\.pth.*weights_only=True"):
        load_state_dict(tmp_path / "evil.pth")
    assert not marker.exists()
    torch.load(tmp_path / "evil.pth", weights_only=False)  # the unsafe loader the suite never uses
    assert marker.exists()


def lambda_model():
    import keras

    inputs = keras.Input((96, 96, 3))
    features = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Lambda(lambda x: x[:, :1] * 0 + 0.5)(features)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_model_with_a_lambda_layer_is_refused_in_safe_mode(tmp_path, suffix):
    from classifiers import load_classifier

    path = tmp_path / f"lambda{suffix}"
    lambda_model().save(path)
    with pytest.raises(ValueError, match=rf"lambda\{suffix}.*Lambda"):
        load_classifier(path)


def test_yaml_python_tags_are_refused_in_suites(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(UserError, match=r"evil\.yaml is not valid YAML.*python/object/apply"):
        load_suite(str(tmp_path / "evil.yaml"))
    assert not marker.exists()


def test_yaml_python_tags_are_refused_in_command_line_params(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UserError, match="not valid YAML"):
        _parse_params([f"sigma=!!python/object/apply:os.system ['touch {marker}']"])
    assert not marker.exists()


def test_file_name_with_markup_renders_as_text_in_the_report(tmp_path):
    from reports import render_report
    from tests.support.report_run import EVIL, make_run

    run = make_run(tmp_path, lean=True)
    summary = json.loads((run / "summary.json").read_text())
    summary["data_note"] = f"Images from {EVIL}.csv"
    (run / "summary.json").write_text(json.dumps(summary))
    examples = json.loads((run / "examples" / "index.json").read_text())
    examples[0]["image_id"] = f"test/{EVIL}.png"
    (run / "examples" / "index.json").write_text(json.dumps(examples))
    html = render_report(run).read_text(encoding="utf-8")
    assert EVIL not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
    assert html.count("<script") == 1 and "<script>\n// Sortable tables" in html  # only the page's own
