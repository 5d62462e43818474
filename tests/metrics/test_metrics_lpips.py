"""LPIPS against the official ``lpips`` package (0.1.4, installed with --no-deps), and its plumbing.

The package builds its AlexNet with torchvision, which this project does not install, so the reference
test puts a stand-in ``torchvision.models`` into ``sys.modules`` whose ``alexnet()`` returns the layers of
torchvision's ``AlexNet.features`` (written out below from torchvision's source, independently of
``benchmark.metrics.lpips``) loaded from a seeded, torchvision-format backbone file.  The linear layers
are the real v0.1 ``alex.pth`` that ships inside the package.
"""

import importlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy import ndimage
from torch import nn

from benchmark.images import read_grayscale
from benchmark.manifest import sha256_file
from benchmark.metrics import IMAGE_QUALITY_METRICS, measure_quality_batch
from benchmark.pipeline import stages
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.config import LpipsConfig, load_suite
from cxr_kernel.errors import UserError
from tests.support.paths import ROOT

TOLERANCE = 1e-5
XRAYS = next(
    (
        folder / "shared" / "data" / "kermany-hr"
        for folder in ROOT.parents
        if (folder / "shared" / "data" / "kermany-hr").is_dir()
    ),
    None,
)


def _torchvision_alexnet_features() -> nn.Sequential:
    """torchvision.models.AlexNet().features, as in torchvision/models/alexnet.py."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def _save_backbone(path: Path, seed: int) -> Path:
    """A seeded random AlexNet in torchvision's state-dict layout, classifier tensors included."""
    torch.manual_seed(seed)
    state = {f"features.{key}": value for key, value in _torchvision_alexnet_features().state_dict().items()}
    state["classifier.1.weight"] = torch.randn(8, 4)  # a whole-model file also holds the classifier
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """(the official lpips.LPIPS model, our weights config), sharing the backbone and linear files."""
    folder = tmp_path_factory.mktemp("lpips")
    backbone = _save_backbone(folder / "alexnet-owt-7be5be79.pth", seed=0)

    def alexnet(pretrained=False, **_):
        features = _torchvision_alexnet_features()
        state = torch.load(backbone, weights_only=True)
        features.load_state_dict(
            {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        )
        return types.SimpleNamespace(features=features)

    torchvision = types.ModuleType("torchvision")
    torchvision.models = types.ModuleType("torchvision.models")
    torchvision.models.alexnet = alexnet
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "torchvision", torchvision)
        patch.setitem(sys.modules, "torchvision.models", torchvision.models)
        lpips = importlib.import_module("lpips")
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
        linear = Path(lpips.__file__).parent / "weights" / "v0.1" / "alex.pth"
        yield model, LpipsConfig(backbone=backbone, linear=linear)
    # The package holds the stand-in torchvision: drop it too (only it: other modules imported meanwhile,
    # pyarrow's say, must stay, or importing them again registers their types twice).
    for name in [name for name in sys.modules if name.split(".")[0] in ("lpips", "torchvision")]:
        del sys.modules[name]


def _official_values(model, references: np.ndarray, images: np.ndarray) -> np.ndarray:
    def signed(stack):
        return (2 * torch.from_numpy(stack.astype(np.float32)) - 1)[:, None].expand(-1, 3, -1, -1)

    with torch.no_grad():
        return model(signed(references), signed(images)).flatten().double().numpy()


def _random_pairs(shape) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(sum(shape))
    references = rng.random(shape, dtype=np.float32)
    images = np.clip(references + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
    return references, images


def _xray_pairs() -> tuple[np.ndarray, np.ndarray]:
    """Non-square crops (193x257) of three real X-rays and blurred, noisy copies."""
    if XRAYS is None:
        pytest.skip("../shared/data/kermany-hr (real X-rays) not beside the checkout")
    files = sorted(XRAYS.glob("*/*.jpeg"))[::70][:3]
    references = np.stack([read_grayscale(path)[200:393, 150:407] for path in files])
    rng = np.random.default_rng(1)
    blurred = ndimage.gaussian_filter(references, sigma=(0, 1.2, 1.2))
    images = np.clip(blurred + rng.normal(0, 0.02, references.shape), 0, 1).astype(np.float32)
    return references, images


@pytest.mark.parametrize("shape", [(3, 67, 93), (2, 31, 31), (2, 128, 96)])
def test_equals_the_official_lpips_on_random_images(official, shape):
    model, weights = official
    references, images = _random_pairs(shape)
    values = measure_quality_batch(references, images, ["lpips"], lpips_weights=weights)["lpips"]
    expected = _official_values(model, references, images)
    assert values.dtype == np.float64 and np.all(expected > 1e-3)
    np.testing.assert_allclose(values, expected, rtol=0, atol=TOLERANCE)


def test_equals_the_official_lpips_on_real_xrays(official):
    model, weights = official
    references, images = _xray_pairs()
    values = measure_quality_batch(references, images, ["lpips"], lpips_weights=weights)["lpips"]
    np.testing.assert_allclose(values, _official_values(model, references, images), rtol=0, atol=TOLERANCE)


def test_per_image_function_crops_like_the_batch(official):
    _, weights = official
    references, images = _random_pairs((1, 70, 80))
    metric = IMAGE_QUALITY_METRICS.get("lpips")
    value = metric(references[0], images[0], data_range=1.0, crop_border=3, weights=weights)
    batch = measure_quality_batch(references, images, ["lpips"], crop_border=3, lpips_weights=weights)
    assert value == batch["lpips"][0]


def test_identical_images_give_zero_and_noise_raises_it(official):
    _, weights = official
    references, _ = _random_pairs((1, 64, 64))
    metric = IMAGE_QUALITY_METRICS.get("lpips")
    assert metric(references[0], references[0].copy(), data_range=1.0, weights=weights) == 0.0
    rng = np.random.default_rng(2)
    noisy = [np.clip(references[0] + rng.normal(0, s, (64, 64)), 0, 1) for s in (0.02, 0.2)]
    mild, strong = (metric(references[0], n, data_range=1.0, weights=weights) for n in noisy)
    assert 0 < mild < strong
    assert metric(noisy[1], references[0], data_range=1.0, weights=weights) == pytest.approx(strong, abs=1e-6)


def test_an_images_value_does_not_depend_on_the_other_images_in_the_call(official):
    _, weights = official
    references, images = _random_pairs((4, 48, 40))
    whole = measure_quality_batch(references, images, ["lpips", "psnr"], lpips_weights=weights)["lpips"]
    parts = [
        measure_quality_batch(references[part], images[part], ["lpips"], lpips_weights=weights)["lpips"]
        for part in (slice(0, 1), slice(1, None))
    ]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_lpips_without_weights_says_how_to_give_them():
    references, images = _random_pairs((1, 40, 40))
    with pytest.raises(UserError, match=r"quality: \{lpips: \{backbone: .*lpips/weights/v0.1/alex.pth"):
        measure_quality_batch(references, images, ["psnr", "lpips"])


def test_a_missing_file_is_named_with_where_to_get_it(official, tmp_path):
    _, weights = official
    references, images = _random_pairs((1, 40, 40))
    absent = tmp_path / "nowhere.pth"
    cases = {
        "backbone": (LpipsConfig(backbone=absent, linear=weights.linear), "alexnet-owt-7be5be79.pth"),
        "linear-layer": (
            LpipsConfig(backbone=weights.backbone, linear=absent),
            "lpips/weights/v0.1/alex.pth",
        ),
    }
    for what, (config, fix) in cases.items():
        with pytest.raises(UserError, match=f"LPIPS {what} file not found: {absent}.*{fix}"):
            measure_quality_batch(references, images, ["lpips"], lpips_weights=config)


def test_a_wrong_state_dict_names_the_file_and_the_mismatch(official, tmp_path):
    _, weights = official
    references, images = _random_pairs((1, 40, 40))
    wrong_shape = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, wrong_shape)
    not_torch = tmp_path / "notes.pth"
    not_torch.write_text("not a state dict")
    linear_without_keys = tmp_path / "alex.pth"
    torch.save({"lin0.weight": torch.zeros(1, 64, 1, 1)}, linear_without_keys)
    cases = [
        (
            wrong_shape,
            weights.linear,
            r"backbone file .*vgg.pth does not match \(features.0.weight has shape",
        ),
        (not_torch, weights.linear, r"backbone file .*notes.pth is not a readable torch state dict"),
        (
            weights.backbone,
            linear_without_keys,
            r"linear-layer file .*alex.pth .*lin0.model.1.weight missing",
        ),
    ]
    for backbone, linear, message in cases:
        config = LpipsConfig(backbone=backbone, linear=linear)
        with pytest.raises(UserError, match=message):
            measure_quality_batch(references, images, ["lpips"], lpips_weights=config)


def test_quality_cache_key_follows_the_weights(official, tmp_path, monkeypatch):
    _, weights = official
    references, images = _random_pairs((2, 40, 40))
    hr = stages.Images("HR", references, ["hr0", "hr1"])
    sr = stages.Images("sr", images, ["sr0", "sr1"])
    cache = Cache(tmp_path / "cache")
    first = stages.quality(hr, sr, ["psnr", "lpips"], 0, cache, lpips_weights=weights)
    other = LpipsConfig(backbone=_save_backbone(tmp_path / "other.pth", seed=1), linear=weights.linear)
    second = stages.quality(hr, sr, ["psnr", "lpips"], 0, cache, lpips_weights=other)
    lpips_rows = [table[table["metric"] == "lpips"]["value"].to_numpy() for table in (first, second)]
    assert not np.allclose(*lpips_rows)

    def fail(*args, **kwargs):
        raise AssertionError("recomputed a cached value")

    monkeypatch.setattr(stages, "measure_quality_batch", fail)
    assert stages.quality(hr, sr, ["psnr", "lpips"], 0, cache, lpips_weights=weights).equals(first)


def _suite(tmp_path: Path, quality: dict | None, **extra) -> Path:
    raw = {
        "name": "lpips-study",
        "data": {"phantoms": {"train_per_class": 2, "test_per_class": 2, "size": 64}, "hr_size": 64},
        "cells": [{"scenario": "bicubic", "scale": 4}],
        "sr_models": [{"name": "bicubic", "model": "bicubic"}],
        "classifier": {"train": {"epochs": 1}},
        "metrics": ["psnr", "lpips"],
        **({"quality": quality} if quality is not None else {}),
        **extra,
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_suite_asking_for_lpips_without_weights_is_refused(tmp_path):
    with pytest.raises(
        UserError, match=r"metrics lists lpips, which needs its weights: add `quality: \{lpips"
    ):
        load_suite(str(_suite(tmp_path, None)))


def test_suite_resolves_the_weight_paths_and_checks_the_files_before_any_work(official, tmp_path):
    _, weights = official
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "alex.pth").write_bytes(weights.linear.read_bytes())
    suite = load_suite(
        str(_suite(tmp_path, {"lpips": {"backbone": str(weights.backbone), "linear": "weights/alex.pth"}}))
    )
    assert suite.quality.lpips.linear == (tmp_path / "weights" / "alex.pth").resolve()
    broken = _suite(tmp_path, {"lpips": {"backbone": "weights/alex.pth", "linear": "weights/alex.pth"}})
    with pytest.raises(UserError, match=r"suite.yaml: LPIPS backbone file .*alex.pth does not match"):
        load_suite(str(broken))


@pytest.mark.slow
def test_a_suite_with_lpips_runs_end_to_end(official, tmp_path):
    """A tiny study with lpips among its metrics and a given classifier file (nothing is trained)."""
    from benchmark.commands.cli import main
    from classifiers import build_reference_cnn

    _, weights = official
    build_reference_cnn(input_size=96).save(tmp_path / "mine.keras")
    quality = {"lpips": {"backbone": str(weights.backbone), "linear": str(weights.linear)}}
    extra = {"classifier": {"weights": "mine.keras", "input_size": 96}, "stats": {"n_bootstrap": 200}}
    suite = _suite(tmp_path, quality, **extra)
    runs = tmp_path / "runs"
    assert main(["run", "--suite", str(suite), "--runs-dir", str(runs), "--quiet"]) == 0
    (run,) = (runs / "lpips-study").iterdir()
    results = pd.read_parquet(run / "results.parquet")
    lpips_values = results[(results["metric"] == "lpips") & (results["model"] == "bicubic")]["value"]
    assert len(lpips_values) == 4 and (lpips_values > 0).all()
    summary = json.loads((run / "summary.json").read_text())
    assert "lpips" in json.dumps(summary["tables"]["quality"])
    provenance = summary["lpips_weights"]  # files and checksums of the weights, as for every input
    assert provenance["sha256"] == f"{sha256_file(weights.backbone)}:{sha256_file(weights.linear)}"
    assert f"(sha256 {provenance['sha256']})" in (run / "report.html").read_text(encoding="utf-8")
