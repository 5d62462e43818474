"""The `torch` classifier type: torchvision's architectures transcribed, resumable training, the
interface (predict, Grad-CAM, identity) and shipping (float16 .pt and its ONNX export)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch

from classifiers import torch_training
from classifiers.backends.onnx_files import OnnxClassifier
from classifiers.backends.torch_models import TorchClassifier
from classifiers.recipe import TorchRecipe
from classifiers.torch_archs import build
from classifiers.torch_io import load_model, save_model


@pytest.mark.parametrize(
    ("arch", "parameters", "entries", "keys"),
    [
        # torchvision 0.29: resnet18() has 11,689,512 parameters with its 1000-class head (512 * 1000 +
        # 1000); one output unit leaves 11,177,025. Its state dict has 122 entries.
        (
            "resnet18",
            11_689_512 - 513_000 + 513,
            122,
            ["conv1.weight", "layer4.1.bn2.running_var", "fc.bias"],
        ),
        # mobilenet_v2(): 3,504,872 with 1280 * 1000 + 1000; 314 state dict entries.
        (
            "mobilenet_v2",
            3_504_872 - 1_281_000 + 1_281,
            314,
            ["features.0.0.weight", "features.17.conv.2.weight", "features.18.1.num_batches_tracked"],
        ),
    ],
)
def test_architectures_have_torchvisions_parameters_and_keys(arch, parameters, entries, keys):
    model = build(arch)
    state = model.state_dict()
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert len(state) == entries and all(key in state for key in keys)
    assert not any("input_" in key for key in state)  # the in-graph normalisation is not a weight


def test_the_graph_takes_gray_in_0_1_and_normalises_like_torchvision():
    model = build("resnet18").eval()
    x = torch.rand(2, 1, 40, 40)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    by_hand = (x.expand(-1, 3, -1, -1) - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    assert torch.equal(model.normalise(x), by_hand)


def _separable(n: int = 48, size: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gray images whose label is a bright disc in the middle."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    images = rng.uniform(0.1, 0.4, (n, size, size)).astype(np.float32)
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 4) ** 2
    images[labels == 1] += 0.5 * disc
    return np.clip(images, 0, 1), labels


RECIPE = TorchRecipe(epochs=3, batch_size=8, early_stopping_patience=None)


def test_training_learns_saves_its_best_epoch_and_writes_its_history(tmp_path):
    images, labels = _separable()
    out = torch_training.train_torch_classifier(
        images,
        labels,
        arch="mobilenet_v2",
        recipe=RECIPE,
        seed=1,
        out_path=tmp_path / "m.pt",
        input_size=32,
        threads=1,
    )
    history = pd.read_csv(torch_training.history_path(out))
    assert list(history["epoch"]) == [1, 2, 3] and (history["images_per_second"] > 0).all()
    assert history["loss"].is_monotonic_decreasing and history["accuracy"].iloc[-1] > 0.75
    assert history["learning_rate"].tolist() == pytest.approx([1e-3, 7.5e-4, 2.5e-4])  # cosine over 3
    _, arch, size = load_model(out)
    assert (arch, size) == ("mobilenet_v2", 32) and not (tmp_path / "m.resume").exists()


def test_a_killed_training_resumes_bit_identical(tmp_path, monkeypatch):
    images, labels = _separable()
    kwargs = dict(arch="resnet18", recipe=RECIPE, seed=2, input_size=32, progress=False, threads=1)
    whole = torch_training.train_torch_classifier(images, labels, out_path=tmp_path / "a.pt", **kwargs)

    real = torch_training._checkpoint

    def die_after_epoch_one(folder, state, *args):
        real(folder, state, *args)
        if state["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(torch_training, "_checkpoint", die_after_epoch_one)
    with pytest.raises(KeyboardInterrupt):
        torch_training.train_torch_classifier(images, labels, out_path=tmp_path / "b.pt", **kwargs)
    monkeypatch.setattr(torch_training, "_checkpoint", real)
    assert (tmp_path / "b.resume" / "epoch-0001.pt").is_file()
    resumed = torch_training.train_torch_classifier(images, labels, out_path=tmp_path / "b.pt", **kwargs)
    a, b = load_model(whole)[0].state_dict(), load_model(resumed)[0].state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)
    with pytest.raises(ValueError, match="Delete .* to train from the start"):  # another training's folder
        (tmp_path / "c.resume").mkdir()
        (tmp_path / "b.resume").mkdir(exist_ok=True)
        torch.save({"fingerprint": "other"}, tmp_path / "c.resume" / "epoch-0001.pt")
        torch_training.train_torch_classifier(images, labels, out_path=tmp_path / "c.pt", **kwargs)


def test_augmentation_is_a_function_of_its_generator_and_keeps_a_flat_image_flat():
    x = torch.rand(4, 1, 24, 24)
    first = torch_training.augment(x, torch.Generator().manual_seed(5))
    assert torch.equal(first, torch_training.augment(x, torch.Generator().manual_seed(5)))
    assert not torch.equal(first, torch_training.augment(x, torch.Generator().manual_seed(6)))
    flat = torch_training.augment(torch.full((3, 1, 16, 16), 0.3), torch.Generator().manual_seed(0))
    assert torch.allclose(flat, torch.full_like(flat, 0.3))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A random ResNet-18 (it still tells images apart) with a head giving moderate probabilities."""
    torch.manual_seed(0)
    model = build("resnet18").eval()
    model.fc.weight.data.normal_(0, 0.05)
    return save_model(tmp_path_factory.mktemp("torch") / "net.pt", model, arch="resnet18", input_size=64)


def _images(n: int, seed: int) -> np.ndarray:
    brightness = np.linspace(0.2, 1.0, n, dtype=np.float32)[:, None, None]
    return np.random.default_rng(seed).random((n, 90, 70), dtype=np.float32) * brightness


def test_predict_is_the_sigmoid_of_the_logit_of_the_nearest_resized_image(saved):
    classifier = TorchClassifier(saved)
    images = _images(3, 0)
    rows, cols = ((np.arange(64) + 0.5) * 90 / 64).astype(int), ((np.arange(64) + 0.5) * 70 / 64).astype(int)
    x = torch.from_numpy(np.ascontiguousarray(images[:, rows][:, :, cols])[:, None])
    model = load_model(saved)[0]
    with torch.no_grad():
        expected = torch.sigmoid(model(x)[:, 0]).numpy()
    np.testing.assert_allclose(classifier.predict(images, batch_size=2), expected, atol=1e-6)
    assert expected.std() > 0.01
    assert classifier.identity == hashlib.sha256(saved.read_bytes()).hexdigest()
    record = classifier.describe()
    assert (
        record["type"] == "torch" and record["input"]["size"] == [64, 64] and record["explains"] == "grad-cam"
    )


def test_grad_cam_equals_cam_for_a_pooled_linear_head(saved):
    """Global average pooling then one linear unit: the gradient of sigmoid(z) at each cell of channel c
    is sigmoid'(z) w_c / (h w), so Grad-CAM is Zhou et al.'s CAM, relu(sum_c w_c A_c), normalised."""
    images = _images(4, 1)
    model = load_model(saved)[0]
    x = torch.from_numpy(TorchClassifier(saved).input.prepare(images))
    with torch.no_grad():
        stem = model.maxpool(model.relu(model.bn1(model.conv1(model.normalise(x)))))
        features = model.layer4(model.layer3(model.layer2(model.layer1(stem))))
        cam = torch.relu((model.fc.weight[0].view(1, -1, 1, 1) * features).sum(1)).numpy()
    peaks = cam.max(axis=(1, 2), keepdims=True)
    expected = np.divide(cam, peaks, out=np.zeros_like(cam), where=peaks > 0)
    maps = TorchClassifier(saved).explain(images, batch_size=3)
    assert maps.shape == (4, 2, 2) and (maps.max(axis=(1, 2)) == 1).any()
    np.testing.assert_allclose(maps, expected, atol=1e-5)


def test_a_file_of_another_arch_or_size_is_refused(saved, tmp_path):
    with pytest.raises(ValueError, match="classifier.input_size is 48 but .* was trained with 64"):
        TorchClassifier(saved, input_size=48)
    plain = tmp_path / "plain.pt"
    torch.save(build("resnet18").state_dict(), plain)
    with pytest.raises(ValueError, match="plain state dict: name its architecture in classifier.arch"):
        TorchClassifier(plain)
    with pytest.raises(ValueError, match="does not fit architecture 'mobilenet_v2'"):
        TorchClassifier(plain, arch="mobilenet_v2", input_size=64)
    assert TorchClassifier(plain, arch="resnet18", input_size=64).settings == {
        "arch": "resnet18",
        "input_size": 64,
    }


def test_shipping_writes_float16_weights_and_an_onnx_export_that_agrees_within_1e_5(saved, tmp_path):
    record = TorchClassifier.ship(saved, tmp_path / "shipped.pt")
    onnx_path = tmp_path / "shipped.onnx"
    assert record["files"] == [tmp_path / "shipped.pt", onnx_path] and record["parameters"] == 11_177_025
    stored = torch.load(tmp_path / "shipped.pt", weights_only=True)["state_dict"]
    assert stored["conv1.weight"].dtype == torch.float16
    assert (tmp_path / "shipped.pt").stat().st_size < 0.6 * saved.stat().st_size
    images = _images(5, 2)
    from_torch = TorchClassifier(tmp_path / "shipped.pt").predict(images)
    preprocessing = {"size": 64, "channels": 1, "resize": "nearest", "output": "probability"}
    from_onnx = OnnxClassifier(onnx_path, preprocessing).predict(images)
    np.testing.assert_allclose(from_onnx, from_torch, rtol=0, atol=1e-5)
    assert from_torch.std() > 0.01
    # float16 rounding moves the probabilities a little, not the model
    np.testing.assert_allclose(from_torch, TorchClassifier(saved).predict(images), atol=2e-2)
