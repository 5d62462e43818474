"""The `torchxrayvision` classifier type: the library's DenseNet-121 (transcribed) with random weights,
its whole-model release files read without the library, its pneumonia output and operating point."""

from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import torch

from classifiers import xrv_densenet as xrv
from classifiers.backends.torchxrayvision_models import TorchXRayVisionClassifier


def test_densenet121_has_the_librarys_parameters():
    """torchvision's DenseNet-121: 7,978,856 parameters at 3 input channels and 1000 classes; the
    library's has 1 channel (64 * 7 * 7 fewer conv0 weights per dropped channel) and 18 outputs."""
    parameters = 7_978_856 - 2 * 64 * 7 * 7 - (1024 * 1000 + 1000) + (1024 * 18 + 18)
    model = xrv.DenseNet()
    assert sum(p.numel() for p in model.parameters()) == parameters
    state = model.state_dict()
    assert state["features.conv0.weight"].shape == (64, 1, 7, 7) and state["classifier.weight"].shape == (
        18,
        1024,
    )
    assert "features.denseblock4.denselayer16.conv2.weight" in state and "features.norm5.running_var" in state


def test_op_norm_maps_the_operating_point_to_one_half_as_the_library():
    p = torch.tensor([0.0, 0.05, 0.1, 0.55, 1.0])
    out = xrv.op_norm(p, 0.1)
    expected = [
        0.0,
        0.05 / 0.2,
        0.5,
        1 - 0.45 / 1.8,
        1.0,
    ]  # models.py: x / (2t) below, 1 - (1 - x) / (2(1 - t))
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-7)


@pytest.fixture(scope="module")
def state_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("xrv") / "random.pt"
    torch.save(xrv.DenseNet().state_dict(), path)
    return path


def test_pneumonia_is_output_8_on_the_librarys_input(state_file):
    classifier = TorchXRayVisionClassifier(state_file, "densenet121-res224-rsna")
    assert (classifier.input.size, classifier.input.scaling, classifier.input.resize) == (
        (224, 224),
        (-1024.0, 1024.0),
        "bilinear",
    )
    images = np.random.default_rng(0).random((2, 224, 224), dtype=np.float32)
    with torch.no_grad():
        logits = xrv.load_densenet(state_file)(torch.from_numpy(images[:, None] * 2048 - 1024))
    expected = xrv.op_norm(torch.sigmoid(logits[:, 8]), 0.13486601).numpy()
    np.testing.assert_allclose(classifier.predict(images), expected, atol=1e-5)
    plain = TorchXRayVisionClassifier(state_file)  # no model named: the plain sigmoid
    np.testing.assert_allclose(plain.predict(images), torch.sigmoid(logits[:, 8]).numpy(), atol=1e-5)
    maps = classifier.explain(images[:1])
    assert maps.shape == (1, 7, 7) and 0 <= maps.min() and maps.max() <= 1


def test_a_whole_model_release_file_loads_without_the_library(tmp_path, state_file, monkeypatch):
    """The releases are `torch.save(model)` pickles of torchxrayvision classes: written here under a
    stand-in `torchxrayvision.models` module, then read with that module gone."""
    fake = types.ModuleType("torchxrayvision.models")
    classes = {}
    for name in ("DenseNet", "_DenseBlock", "_DenseLayer", "_Transition"):
        classes[name] = type(name, (getattr(xrv, name),), {"__module__": "torchxrayvision.models"})
        setattr(fake, name, classes[name])
    monkeypatch.setitem(sys.modules, "torchxrayvision", types.ModuleType("torchxrayvision"))
    monkeypatch.setitem(sys.modules, "torchxrayvision.models", fake)
    model = xrv.DenseNet()
    model.load_state_dict(torch.load(state_file, weights_only=True))
    for module in model.modules():  # re-class every library module as the releases have them
        if type(module).__name__ in classes and type(module).__module__ == xrv.__name__:
            module.__class__ = classes[type(module).__name__]
    release = tmp_path / "kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt"
    torch.save(model, release)
    monkeypatch.delitem(sys.modules, "torchxrayvision.models")
    monkeypatch.delitem(sys.modules, "torchxrayvision")

    loaded = xrv.read_weights(release)
    expected = torch.load(state_file, weights_only=True)
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump(Evil(), handle)
    with pytest.raises(ValueError, match="Could not read .*evil.pt as torchxrayvision DenseNet weights"):
        xrv.read_weights(path)


def test_a_missing_file_names_where_it_comes_from(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        TorchXRayVisionClassifier(tmp_path / "absent.pt", "densenet121-res224-rsna")
    assert xrv.RELEASES + "kaggle-densenet121-d121-tw-lr001-rot45-tr15-sc15-seed0-best.pt" in str(error.value)
    assert "nothing is downloaded" in str(error.value)
