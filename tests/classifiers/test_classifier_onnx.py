"""The `onnx` classifier type (classifiers/backends/onnx_files.py): a model file from any framework,
the input the suite declares, and a one-line refusal when the file's input shape disagrees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmark.pipeline.classifier_setup import check_given_classifier
from benchmark.pipeline.config import ClassifierConfig
from classifiers.backends import BACKENDS
from classifiers.backends.onnx_files import OnnxClassifier
from cxr_kernel.errors import UserError


def _linear_model(path: Path, shape: list, weight: np.ndarray, *, sigmoid: bool) -> Path:
    """An ONNX graph: flatten the image, one linear unit, optionally a sigmoid (no framework involved)."""
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "w"], ["z"]),
    ]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["z"], ["out"]))
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out" if sigmoid else "z", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(weight.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_the_backend_is_found_by_its_type_alone():
    assert "onnx" in BACKENDS and BACKENDS.get("onnx") is OnnxClassifier


def test_predictions_follow_the_declared_size_scaling_channels_and_layout(tmp_path):
    weight = np.random.default_rng(0).normal(size=(3 * 8 * 8, 1)) / 100
    path = _linear_model(tmp_path / "m.onnx", ["batch", 8, 8, 3], weight, sigmoid=False)
    declared = {"size": 8, "channels": 3, "scaling": (-1.0, 1.0), "resize": "nearest", "layout": "NHWC"}
    classifier = OnnxClassifier(path, {**declared, "output": "logit"})
    images = np.random.default_rng(1).random((5, 16, 16), dtype=np.float32)
    by_hand = images[:, 1::2, 1::2] * 2 - 1  # nearest 16 -> 8 takes every second pixel from the second
    x = np.repeat(by_hand[..., None], 3, axis=-1).reshape(5, -1)
    expected = 1 / (1 + np.exp(-(x.astype(np.float64) @ weight)[:, 0]))
    np.testing.assert_allclose(classifier.predict(images, batch_size=2), expected, atol=1e-6)
    record = classifier.describe()
    assert record["type"] == "onnx" and record["explains"] is None and record["settings"]["preprocessing"]
    with pytest.raises(NotImplementedError, match="no saliency map"):
        classifier.explain(images)
    # The same file declared otherwise is another classifier for the cache.
    other = OnnxClassifier(path, {**declared, "output": "probability"})
    assert other.identity != classifier.identity


def test_a_file_whose_input_shape_disagrees_is_refused_in_one_line(tmp_path):
    path = _linear_model(tmp_path / "m.onnx", ["batch", 1, 8, 8], np.ones((64, 1)), sigmoid=True)
    with pytest.raises(ValueError) as error:
        OnnxClassifier(path, {"size": 16, "channels": 1})
    message = str(error.value)
    assert "\n" not in message and "takes input 'image' of shape ['batch', 1, 8, 8]" in message
    assert "declares (batch, 1, 16, 16) (NCHW)" in message
    with pytest.raises(ValueError, match="declares .* 3, 8, 8"):
        OnnxClassifier(path, {"size": 8, "channels": 3})


def test_the_suite_must_declare_the_input_and_a_nan_weight_is_refused(tmp_path):
    with pytest.raises(ValueError, match="type onnx needs `preprocessing` block"):
        ClassifierConfig(type="onnx", weights=tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="type onnx trains nothing"):
        ClassifierConfig(type="onnx", train={}, preprocessing={"size": 8})
    weight = np.ones((64, 1))
    weight[3] = np.nan
    path = _linear_model(tmp_path / "nan.onnx", ["batch", 1, 8, 8], weight, sigmoid=True)
    config = ClassifierConfig(type="onnx", weights=path, preprocessing={"size": 8})
    with pytest.raises(UserError, match="holds NaN or Inf weights \\(w\\)"):
        check_given_classifier(config)


def test_a_type_is_registered_once():
    with pytest.raises(ValueError, match="classifier type 'onnx' is defined twice"):
        BACKENDS.register("onnx", "classifiers.backends.onnx_files:OnnxClassifier")
    assert BACKENDS.names() == ["keras", "onnx", "torch", "torchscript", "torchxrayvision"]
