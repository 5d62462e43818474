"""One .keras file, two Keras backends: TensorFlow here, PyTorch in a subprocess without TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from classifiers import PneumoniaClassifier, build_reference_cnn, load_classifier
from classifiers.gradcam import grad_cam_maps
from classifiers.runtime import backend_name, keras
from tests.support.paths import ROOT

SMALL = 126  # last convolution: a 4 x 4 Grad-CAM grid

# Runs under KERAS_BACKEND=torch with every import of TensorFlow failing, as on a machine without it:
# loads the TensorFlow-saved model, predicts, computes Grad-CAM, and trains one epoch of its own.
_TORCH_SIDE = """
import sys
import numpy as np

# As if not installed: `import tensorflow` raises ImportError, importlib.util.find_spec gives None.
sys.modules["tensorflow"] = None
from classifiers import TrainingRecipe, load_classifier, train_classifier
from classifiers.gradcam import grad_cam_maps
from classifiers.runtime import backend_name

data_file, model_file, result_file, trained_file = sys.argv[1:5]
data = np.load(data_file)
images = data["images"]
classifier = load_classifier(model_file)
recipe = TrainingRecipe(epochs=1, batch_size=4, validation_fraction=0.25, early_stopping_patience=None)
train_classifier(images, data["labels"], recipe=recipe, seed=0, out_path=trained_file, input_size=96,
                 progress=False)
np.savez(
    result_file,
    backend=backend_name(),
    probabilities=classifier.predict(images),
    maps=grad_cam_maps(classifier, images),
    trained_probabilities=load_classifier(trained_file).predict(images),
)
"""


@pytest.fixture(scope="module")
def torch_side(tmp_path_factory):
    """(images, TensorFlow-saved model file, what the PyTorch backend computed, torch-trained model file)."""
    folder = tmp_path_factory.mktemp("backends")
    rng = np.random.default_rng(2)
    labels = np.array([0, 1] * 6)
    images = (0.35 + 0.1 * rng.standard_normal((12, 80, 70)) + 0.25 * labels[:, None, None]).clip(0, 1)
    images = images.astype(np.float32)
    np.savez(folder / "data.npz", images=images, labels=labels)
    keras.utils.set_random_seed(15)  # a random model whose maps all show evidence
    model = build_reference_cnn(input_size=SMALL)
    model.save(folder / "tf.keras")
    environment = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT)}
    files = [folder / name for name in ("data.npz", "tf.keras", "torch.npz", "torch-trained.keras")]
    finished = subprocess.run(
        [sys.executable, "-c", _TORCH_SIDE, *map(str, files)],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return images, files[1], dict(np.load(files[2])), files[3]


def test_this_process_runs_tensorflow_by_default():
    assert backend_name() == "tensorflow"


def test_a_tensorflow_saved_model_predicts_the_same_on_pytorch(torch_side):
    images, model_file, torch_results, _ = torch_side
    assert str(torch_results["backend"]) == "torch"
    expected = load_classifier(model_file).predict(images)
    assert expected.std() > 0  # the images give the random model different outputs
    np.testing.assert_allclose(torch_results["probabilities"], expected, rtol=0, atol=1e-5)


def test_grad_cam_maps_are_the_same_on_both_backends(torch_side):
    images, model_file, torch_results, _ = torch_side
    expected = grad_cam_maps(load_classifier(model_file), images)
    assert expected.shape == (12, 4, 4) and (expected.max(axis=(1, 2)) == 1).all()
    np.testing.assert_allclose(torch_results["maps"], expected, rtol=0, atol=1e-4)


def test_a_model_trained_on_pytorch_predicts_the_same_on_tensorflow(torch_side):
    images, _, torch_results, trained_file = torch_side
    classifier = load_classifier(trained_file)
    assert isinstance(classifier, PneumoniaClassifier)
    np.testing.assert_allclose(classifier.predict(images), torch_results["trained_probabilities"], atol=1e-5)


def test_the_trained_classifier_cache_key_names_the_backend(monkeypatch):
    import pandas as pd

    from benchmark.pipeline.classifier_setup import training_key
    from benchmark.pipeline.config import ClassifierConfig

    train = pd.DataFrame(
        {"path": ["a", "b"], "sha256": ["1" * 64, "2" * 64], "label": [0, 1], "patient_id": ["p", "q"]}
    )
    config = ClassifierConfig(train={"epochs": 1})
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    tensorflow_key = training_key(config, train, seed=0)
    monkeypatch.delenv("KERAS_BACKEND")
    assert training_key(config, train, seed=0) == tensorflow_key  # the default backend
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert training_key(config, train, seed=0) != tensorflow_key
