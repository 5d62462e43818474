"""Verified reads: a cache entry that does not match its checksum is named in one warning, moved to
``.corrupt`` and recomputed; it is never used and never stops a run."""

import logging

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from benchmark.manifest import sha256_file
from benchmark.pipeline import sr_setup, stages
from benchmark.pipeline.cache import CORRUPT_DIR, checksum_path
from benchmark.pipeline.config import CellConfig, DataConfig, PhantomConfig, SRModelConfig
from benchmark.pipeline.dataset import load_dataset
from sr_models import load_upscaler

KEY = "ab" + "0" * 62


def truncate(path):
    path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 2)])


def zero(path):
    np.save(path, np.zeros_like(np.load(path)))


def corrupt_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "corrupt" in r.getMessage()]


def assert_set_aside_once(caplog, cache, path):
    (message,) = corrupt_warnings(caplog)
    assert str(path) in message and "recomputed" in message and "\n" not in message
    assert list((cache.root / CORRUPT_DIR).rglob(f"*{path.name}"))


@pytest.mark.parametrize("damage", [truncate, zero, lambda path: checksum_path(path).unlink()])
def test_a_damaged_array_is_set_aside_and_recomputed(cache, caplog, damage):
    caplog.set_level(logging.WARNING)
    value = np.arange(16, dtype=np.float32).reshape(4, 4)
    cache.array("sr", KEY, lambda: value)
    path = cache.path("sr", KEY, ".npy")
    damage(path)
    calls = []
    again = cache.array("sr", KEY, lambda: calls.append(1) or value)
    assert calls == [1] and np.array_equal(again, value)
    assert_set_aside_once(caplog, cache, path)
    assert np.array_equal(cache.array("sr", KEY, lambda: pytest.fail("recomputed twice")), value)


def test_a_truncated_json_is_set_aside_and_recomputed(cache, caplog):
    caplog.set_level(logging.WARNING)
    cache.json("quality", KEY, lambda: {"psnr": 31.5, "ssim": 0.9})
    path = cache.path("quality", KEY, ".json")
    truncate(path)
    assert cache.json("quality", KEY, lambda: {"psnr": 31.5, "ssim": 0.9}) == {"psnr": 31.5, "ssim": 0.9}
    assert_set_aside_once(caplog, cache, path)


def test_a_truncated_model_file_is_set_aside_and_produced_again(cache, caplog):
    caplog.set_level(logging.WARNING)
    produced = []

    def produce(temporary):
        produced.append(temporary)
        temporary.write_bytes(b"keras zip " * 100)

    path = cache.file("classifier", KEY, ".keras", produce)
    truncate(path)
    assert cache.file("classifier", KEY, ".keras", produce) == path
    assert len(produced) == 2 and path.read_bytes() == b"keras zip " * 100
    assert_set_aside_once(caplog, cache, path)


def test_truncated_sr_weights_set_their_training_aside_and_train_again(cache, caplog, monkeypatch):
    import sr_models.training

    caplog.set_level(logging.WARNING)
    trained = []

    def fake_training(model, scale, *, work_dir, **_):
        trained.append(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        (work_dir / "checkpoint.pth").write_bytes(b"state")
        (work_dir / "weights.pth").write_bytes(b"weights " * 64)
        return work_dir / "weights.pth"

    monkeypatch.setattr(sr_models.training, "train_upscaler", fake_training)
    entry = SRModelConfig(name="e", model="esrgan", train={"preset": "tiny-esrgan"})

    def weights():
        return sr_setup.trained_weights(
            entry,
            4,
            hr_keys=["k"],
            load_images=lambda: np.zeros((1, 8, 8)),
            seed=0,
            cache=cache,
            device="cpu",
            progress=False,
        )

    path = weights()
    assert weights() == path and len(trained) == 1
    truncate(path)
    assert weights() == path and len(trained) == 2
    assert path.read_bytes() == b"weights " * 64
    (message,) = corrupt_warnings(caplog)
    assert str(path.parent) in message and "weights.pth" in message
    assert list((cache.root / CORRUPT_DIR / "sr-train").iterdir())


def test_a_zeroed_sr_image_is_recomputed_so_quality_stays_right(tmp_path, cache, caplog):
    """The issue's case: an SR .npy replaced by zeros, its quality entries deleted, re-run."""
    caplog.set_level(logging.WARNING)
    paths = []
    for seed in range(3):
        paths.append(tmp_path / f"{seed}.png")
        pixels = np.random.default_rng(seed).integers(0, 256, (16, 16), dtype=np.uint8)
        Image.fromarray(pixels).save(paths[-1])
    table = pd.DataFrame({"path": [str(p) for p in paths], "sha256": [sha256_file(p) for p in paths]})
    upscaler, entry = load_upscaler("bicubic", 2), SRModelConfig(name="b", model="bicubic")
    model = sr_setup.model_key(entry, 2, None, "cpu")

    def psnr():
        hr = stages.load_hr(table, 16, cache, progress=False)
        lr = stages.degrade_cell(hr, CellConfig(scenario="bicubic", scale=2), 0, cache, progress=False)
        sr = stages.upscale(lr, "b", upscaler, model, cache, progress=False)
        return stages.quality(hr, sr, ["psnr"], 0, cache), sr

    first, sr = psnr()
    zero(sr.pixels.paths[1])
    for path in (cache.root / "quality").rglob("*.json"):
        path.unlink()
    again, _ = psnr()
    pd.testing.assert_frame_equal(again, first)
    assert_set_aside_once(caplog, cache, sr.pixels.paths[1])


def test_a_damaged_phantom_set_is_generated_again(cache, caplog):
    caplog.set_level(logging.WARNING)
    config = DataConfig(phantoms=PhantomConfig(train_per_class=2, test_per_class=2, size=32), hr_size=32)
    first = load_dataset(config, seed=0, cache=cache, progress=False).images
    victim = first["path"].iloc[0]
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(victim)
    again = load_dataset(config, seed=0, cache=cache, progress=False).images
    pd.testing.assert_frame_equal(again, first)
    (message,) = corrupt_warnings(caplog)
    assert "phantom set" in message and "1 image(s) changed" in message
