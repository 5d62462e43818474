"""Training loop: tiny GANs learn, resumption is exact, outputs have the promised form."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from scipy import ndimage

from sr_models import load_upscaler
from sr_models.archs import build_arch
from sr_models.archs.discriminators import VGGStyleDiscriminator
from sr_models.archs.vgg import vgg19_features
from sr_models.presets import PRESETS, TrainingPreset, resolve_preset
from sr_models.training import HISTORY_COLUMNS, sample_batch, train_upscaler
from sr_models.training.networks import build_discriminator, full_arch
from sr_models.weights import load_state_dict

FAMILIES = ("srgan", "esrgan", "realesrgan")


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/sr_models/conftest.py


def _blobs(count: int, seed: int) -> np.ndarray:
    """Smooth random blobs, (count, 64, 64) float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    images = np.stack([ndimage.gaussian_filter(rng.random((64, 64)), 3) for _ in range(count)])
    low = images.min(axis=(1, 2), keepdims=True)
    high = images.max(axis=(1, 2), keepdims=True)
    return ((images - low) / (high - low)).astype(np.float32)


def block_mean(hr: np.ndarray, rng: np.random.Generator, scale: int = 4) -> np.ndarray:
    h, w = hr.shape
    return hr.reshape(h // scale, scale, w // scale, scale).mean(axis=(1, 3))


def _tiny(family: str, **overrides) -> TrainingPreset:
    return resolve_preset(f"tiny-{family}", overrides)


def _train(family, tmp, preset=None, degrade=block_mean, **overrides):
    return train_upscaler(
        family,
        4,
        preset=preset or _tiny(family, **overrides),
        hr_images=_blobs(6, seed=1),
        degrade=degrade,
        seed=7,
        work_dir=tmp,
        progress=False,
    )


def _held_l1(family, weights) -> float:
    hr = _blobs(2, seed=99)[:, :32, :32]  # images and crops never seen in training
    lr = np.stack([block_mean(h, None) for h in hr])
    sr = load_upscaler(family, 4, weights, device="cpu").upscale(lr)
    return float(np.abs(sr - hr).mean())


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_gan_training_lowers_l1_on_a_fixed_held_batch(family, tmp_path):
    before = _held_l1(family, _train(family, tmp_path / "init", pretrain_steps=0, gan_steps=0))
    trained = _train(family, tmp_path / "run", pretrain_steps=30, gan_steps=10)
    after = _held_l1(family, trained)
    assert after < 0.6 * before, (before, after)

    with open(tmp_path / "run" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert [int(r["step"]) for r in rows] == list(range(1, 41))
    assert {r["stage"] for r in rows[:30]} == {"pretrain"} and {r["stage"] for r in rows[30:]} == {"gan"}
    assert rows[0]["l_gan"] == "" and all(float(r["l_d_real"]) >= 0 for r in rows[30:])
    assert all(r["l_percep"] == "" for r in rows)  # perceptual loss off in tiny presets


def test_weights_file_records_complete_arch_and_ema(tmp_path):
    weights = _train("esrgan", tmp_path, pretrain_steps=2, gan_steps=1)
    state, arch = load_state_dict(weights)
    assert arch == {
        "type": "RRDBNet", "num_in_ch": 3, "num_out_ch": 3, "num_feat": 16, "num_block": 2, "num_grow_ch": 8,
        "scale": 4,
    }  # fmt: skip
    raw = torch.load(weights, weights_only=True)
    assert set(raw) == {"params", "params_ema", "arch"}
    assert any(not torch.equal(raw["params"][k], raw["params_ema"][k]) for k in raw["params"])
    build_arch(arch).load_state_dict(state, strict=True)


def _crash_after(calls: int):
    count = 0

    def degrade(hr, rng):
        nonlocal count
        count += 1
        if count > calls:
            raise KeyboardInterrupt
        return block_mean(hr, rng)

    return degrade


def _saved(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("family", FAMILIES)
def test_run_interrupted_mid_training_resumes_to_identical_weights(family, tmp_path):
    steps = {"pretrain_steps": 3, "gan_steps": 4, "checkpoint_every": 2}
    reference = _saved(_train(family, tmp_path / "whole", **steps))
    batch = PRESETS.get(f"tiny-{family}").batch_size
    with pytest.raises(KeyboardInterrupt):  # dies during step 6; the last checkpoint is step 4
        _train(family, tmp_path / "resumed", degrade=_crash_after(5 * batch + 1), **steps)
    resumed = _saved(_train(family, tmp_path / "resumed", **steps))
    for key in ("params", "params_ema"):
        if key in reference:
            assert reference[key].keys() == resumed[key].keys()
            assert all(torch.equal(reference[key][k], resumed[key][k]) for k in reference[key])
    whole_history = (tmp_path / "whole" / "history.csv").read_text()
    assert whole_history == (tmp_path / "resumed" / "history.csv").read_text()


def test_more_gan_steps_continue_a_finished_run_as_if_uninterrupted(tmp_path):
    reference = _saved(_train("esrgan", tmp_path / "whole", pretrain_steps=2, gan_steps=4))
    _train("esrgan", tmp_path / "extended", pretrain_steps=2, gan_steps=2)
    extended = _saved(_train("esrgan", tmp_path / "extended", pretrain_steps=2, gan_steps=4))
    assert all(
        torch.equal(reference["params_ema"][k], extended["params_ema"][k]) for k in reference["params_ema"]
    )


def test_resuming_with_other_settings_is_refused(tmp_path):
    _train("srgan", tmp_path, pretrain_steps=1, gan_steps=0)
    with pytest.raises(ValueError, match="lr"):
        _train("srgan", tmp_path, pretrain_steps=1, gan_steps=0, lr=1e-2)


def test_perceptual_loss_without_vgg_weights_is_refused_with_the_fallback(tmp_path):
    with pytest.raises(ValueError, match="vgg19-dcbb9e9d.pth") as error:
        _train("esrgan", tmp_path / "run", perceptual_weight=1.0)
    assert "vgg_weights=" in str(error.value) and "perceptual_weight: 0" in str(error.value)
    assert not (tmp_path / "run").exists()


def test_perceptual_loss_trains_with_local_vgg_weights(tmp_path):
    vgg = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in vgg19_features().state_dict().items()}, vgg)
    preset = _tiny("realesrgan", pretrain_steps=0, gan_steps=2, perceptual_weight=1.0, batch_size=1)
    train_upscaler(
        "realesrgan", 4, preset=preset, hr_images=_blobs(2, 1), degrade=block_mean, seed=0,
        work_dir=tmp_path / "run", vgg_weights=vgg, progress=False,
    )  # fmt: skip
    with open(tmp_path / "run" / "history.csv", newline="") as handle:
        assert all(float(row["l_percep"]) > 0 for row in csv.DictReader(handle))


def test_degradation_of_the_wrong_size_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"\(8, 8\)"):
        _train("esrgan", tmp_path, degrade=lambda hr, rng: hr[::2, ::2])


def test_model_must_load_the_preset_architecture(tmp_path):
    with pytest.raises(ValueError, match="architecture model 'srgan' loads"):
        _train("srgan", tmp_path, preset=_tiny("esrgan"))


def test_resolve_preset_names_valid_override_keys():
    with pytest.raises(ValueError, match="gan_weight") as error:
        resolve_preset("esrgan", {"gan_wieght": 1.0})
    assert "gan_wieght" in str(error.value)
    with pytest.raises(ValueError, match="esrgan"):
        resolve_preset("esrgna")


def test_resolve_preset_replaces_arch_and_converts_config_lists():
    compact = {"type": "SRVGGNetCompact", "num_feat": 8, "num_conv": 2}
    preset = resolve_preset("seed-study", {"arch": compact, "betas": [0.5, 0.9]})
    assert preset.arch == compact  # nothing of the preset's RRDBNet arch (num_block, ...) is kept
    assert preset.betas == (0.5, 0.9)
    assert PRESETS.get("seed-study").arch["num_block"] == 8
    with pytest.raises(ValueError, match="'type' key"):
        resolve_preset("seed-study", {"arch": {"num_feat": 32}})


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_its_generator_and_discriminator(name):
    preset = PRESETS.get(name)
    # Fine-tune presets take the initial file's generator: here the official compact model's.
    arch = preset.arch or {"type": "SRVGGNetCompact", "num_conv": 16}
    generator = build_arch(full_arch(arch, 4))
    discriminator = build_discriminator(preset, generator.num_out_ch)
    assert generator.scale == 4
    if isinstance(discriminator, VGGStyleDiscriminator):
        assert discriminator.input_size == preset.hr_patch


def test_hr_images_outside_unit_range_are_refused(tmp_path):
    with pytest.raises(ValueError, match="255"):
        train_upscaler(
            "srgan", 4, preset=_tiny("srgan"), hr_images=_blobs(2, 1) * 255, degrade=block_mean, seed=0,
            work_dir=tmp_path, progress=False,
        )  # fmt: skip


def test_batches_are_flipped_windows_of_the_images_with_their_degradation():
    images = (np.arange(2 * 40 * 40, dtype=np.float32) / (2 * 40 * 40)).reshape(2, 40, 40)
    lr, gt, target = sample_batch(
        images, patch=16, batch_size=8, scale=4, degrade=block_mean, rng=np.random.default_rng(0), usm=False
    )
    assert lr.shape == (8, 4, 4) and gt.shape == target.shape == (8, 16, 16)
    flips = (lambda a: a, np.fliplr, np.flipud, lambda a: a[::-1, ::-1])
    flipped = 0
    for crop, small in zip(gt, lr, strict=True):
        # Values are unique and increase along rows, so the crop's minimum is the window's top-left.
        n, top, left = np.unravel_index(int(np.rint(crop.min() * images.size)), images.shape)
        window = images[n, top : top + 16, left : left + 16]
        assert sum(np.array_equal(crop, flip(window)) for flip in flips) == 1
        flipped += not np.array_equal(crop, window)
        np.testing.assert_array_equal(small, block_mean(crop, None))
    assert 0 < flipped < len(gt)
