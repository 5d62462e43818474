"""Fine-tuning SR generators from weights files (`train-sr --init-weights`), on tiny data: the start is the
file, runs extend and resume exactly, the training sample leaves test patients out, and config errors stop
before any image is read."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from benchmark.commands.cli import main
from benchmark.degradations import DEGRADATIONS
from benchmark.pipeline.sr_setup import training_degradation
from sr_models import load_upscaler
from sr_models.archs import LeftthomasSRGAN, SRVGGNetCompact
from sr_models.archs.vgg import vgg19_features
from sr_models.presets import resolve_preset
from sr_models.training import train_upscaler
from sr_models.training.networks import initial_generator
from tests.sr_models.test_sr_training import _blobs, _crash_after, _saved, block_mean

COMPACT = {"num_feat": 8, "num_conv": 2}
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/sr_models/conftest.py


@pytest.fixture(scope="module")
def compact_file(tmp_path_factory):
    """A small compact model in the official layout (``{"params": ...}``, no arch entry)."""
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("weights") / "compact.pth"
    torch.save({"params": SRVGGNetCompact(**COMPACT).state_dict()}, path)
    return path


@pytest.fixture(scope="module")
def leftthomas_file(tmp_path_factory):
    """A small leftthomas SRGAN as its file: a bare state dict without BatchNorm batch counters."""
    torch.manual_seed(4)
    path = tmp_path_factory.mktemp("weights") / "netG.pth"
    state = LeftthomasSRGAN(num_feat=8, num_block=1).state_dict()
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    return path


def _preset(name="finetune-l1", **overrides):
    tiny = {"hr_patch": 32, "batch_size": 4, "pretrain_steps": 4, "checkpoint_every": 2, "log_every": 1}
    return resolve_preset(name, {**tiny, **overrides})


def _finetune(tmp, init, model="realesrgan-compact", degrade=block_mean, **overrides):
    return train_upscaler(
        model, 4, preset=_preset(**overrides), hr_images=_blobs(6, seed=1), degrade=degrade, seed=7,
        work_dir=tmp, progress=False, init_weights=init,
    )  # fmt: skip


def _equal(a, b, part="params") -> bool:
    return a[part].keys() == b[part].keys() and all(torch.equal(a[part][k], b[part][k]) for k in a[part])


def _held_l1(model, weights) -> float:
    hr = _blobs(3, seed=99)[:, :32, :32]  # never seen in training
    lr = np.stack([block_mean(h, None) for h in hr])
    return float(np.abs(load_upscaler(model, 4, weights, device="cpu").upscale(lr) - hr).mean())


@pytest.mark.parametrize(
    "model, init, lr", [("realesrgan-compact", "compact_file", 2e-3), ("srgan", "leftthomas_file", 5e-3)]
)
def test_finetune_starts_from_the_file_and_lowers_l1(model, init, lr, request, tmp_path):
    init = request.getfixturevalue(init)
    start = _finetune(tmp_path / "start", init, model, pretrain_steps=0)
    state = torch.load(init, weights_only=True)
    state = state.get("params", state)
    assert all(torch.equal(_saved(start)["params"][k], v) for k, v in state.items())
    tuned = _finetune(tmp_path / "tuned", init, model, pretrain_steps=60, pretrain_lr=lr)
    assert _held_l1(model, tuned) < 0.85 * _held_l1(model, start), (
        _held_l1(model, tuned),
        _held_l1(model, start),
    )
    assert _saved(tuned)["arch"]["type"] == ("SRVGGNetCompact" if model != "srgan" else "LeftthomasSRGAN")


def test_an_l1_run_extended_with_more_steps_equals_the_longer_run(compact_file, tmp_path):
    whole = _saved(_finetune(tmp_path / "whole", compact_file, pretrain_steps=6))
    _finetune(tmp_path / "extended", compact_file, pretrain_steps=3)
    extended = _saved(_finetune(tmp_path / "extended", compact_file, pretrain_steps=6))
    assert _equal(whole, extended)
    assert (tmp_path / "whole" / "history.csv").read_text() == (
        tmp_path / "extended" / "history.csv"
    ).read_text()
    progress = json.loads((tmp_path / "extended" / "progress.json").read_text())
    assert progress["step"] == 6 and progress["patches_seen"] == 24 and progress["train_seconds"] > 0


def test_a_killed_finetune_resumes_to_identical_weights_saved_at_every_checkpoint(compact_file, tmp_path):
    whole = _saved(_finetune(tmp_path / "whole", compact_file, pretrain_steps=5))
    with pytest.raises(KeyboardInterrupt):  # dies during step 4; the last checkpoint is step 2
        _finetune(tmp_path / "resumed", compact_file, pretrain_steps=5, degrade=_crash_after(3 * 4 + 1))
    at_checkpoint = _saved(tmp_path / "resumed" / "weights.pth")  # written with the step-2 checkpoint
    checkpoint = torch.load(tmp_path / "resumed" / "checkpoints" / "step_000000002.pt", weights_only=True)
    assert all(torch.equal(at_checkpoint["params"][k], v) for k, v in checkpoint["run"]["net_g"].items())
    assert json.loads((tmp_path / "resumed" / "progress.json").read_text())["step"] == 2
    assert _equal(whole, _saved(_finetune(tmp_path / "resumed", compact_file, pretrain_steps=5)))


def test_pretrain_steps_change_only_while_the_run_is_in_the_pixel_stage(compact_file, tmp_path):
    _finetune(tmp_path, compact_file, pretrain_steps=2, gan_steps=2)
    with pytest.raises(ValueError, match="pretrain_steps 2"):
        _finetune(tmp_path, compact_file, pretrain_steps=3, gan_steps=2)
    with pytest.raises(ValueError, match="init_weights_sha256"):
        _finetune(tmp_path, None, pretrain_steps=2, gan_steps=2, arch={"type": "SRVGGNetCompact", **COMPACT})


def test_arch_override_trains_a_model_from_scratch(tmp_path):
    arch = {"type": "SRVGGNetCompact", **COMPACT}
    weights = _finetune(tmp_path, None, pretrain_steps=2, arch=arch)
    assert _saved(weights)["arch"] == {
        **arch,
        "num_in_ch": 3,
        "num_out_ch": 3,
        "upscale": 4,
        "act_type": "prelu",
    }


def test_the_generator_must_fit_model_scale_and_file(compact_file, tmp_path):
    with pytest.raises(ValueError, match="init_weights"):
        initial_generator("realesrgan-compact", 4, _preset(), None)
    with pytest.raises(ValueError, match="Use --model realesrgan-compact"):
        initial_generator("srgan", 4, _preset(), compact_file)
    x2 = tmp_path / "x2.pth"
    torch.save({"params": SRVGGNetCompact(**COMPACT, upscale=2).state_dict()}, x2)
    with pytest.raises(ValueError, match="x4 weights for --scale 4, got x2"):
        initial_generator("realesrgan-compact", 4, _preset(), x2)
    wider = _preset(arch={"type": "SRVGGNetCompact", "num_feat": 16, "num_conv": 2})
    with pytest.raises(ValueError, match="to fit"):
        initial_generator("realesrgan-compact", 4, wider, compact_file)


def test_gan_finetune_without_vgg_and_with_a_vgg_file(compact_file, tmp_path):
    _finetune(tmp_path / "gan", compact_file, name="finetune-gan", pretrain_steps=0, gan_steps=2)
    rows = list(csv.DictReader((tmp_path / "gan" / "history.csv").open()))
    assert [r["stage"] for r in rows] == ["gan", "gan"] and all(
        r["l_d_real"] and not r["l_percep"] for r in rows
    )
    with pytest.raises(ValueError, match="vgg19-dcbb9e9d.pth"):
        _finetune(tmp_path / "vgg", compact_file, name="finetune-gan-vgg", pretrain_steps=0, gan_steps=1)
    vgg = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in vgg19_features().state_dict().items()}, vgg)
    preset = _preset("finetune-gan-vgg", pretrain_steps=0, gan_steps=1, batch_size=1)
    train_upscaler(
        "realesrgan-compact", 4, preset=preset,
        hr_images=_blobs(2, 1), degrade=block_mean, seed=0, work_dir=tmp_path / "vgg", vgg_weights=vgg,
        progress=False, init_weights=compact_file,
    )  # fmt: skip
    rows = list(csv.DictReader((tmp_path / "vgg" / "history.csv").open()))
    assert float(rows[0]["l_percep"]) > 0


@pytest.mark.parametrize("scenario", DEGRADATIONS.names())
def test_every_scenario_degrades_training_patches(scenario):
    degrade = training_degradation(scenario, {}, 4)
    crop = _blobs(1, seed=5)[0]
    lr = degrade(crop, np.random.default_rng(0))
    assert lr.shape == (16, 16) and lr.dtype == np.float32
    # Not a plain subsample: each scenario's LR is the patch's degradation (close to its block means).
    assert np.abs(lr - block_mean(crop, None)).mean() < 0.15


# --- the command line on a tiny manifest of real files ---


def _dataset(tmp_path) -> tuple:
    """12 train patients per class (1-3 images each), test rows sharing two of them, 64-px PNGs."""
    rows, rng = [], np.random.default_rng(0)
    images = iter(_blobs(80, seed=2))
    for label in ("NORMAL", "PNEUMONIA"):
        for patient in range(12):
            for shot in range(1 + patient % 3):
                rows.append(
                    (f"train/{label}/{label[0]}{patient}-{shot}.png", label, "train", f"{label[0]}{patient}")
                )
        for patient in (0, 11, 20):  # patients 0 and 11 are also in train
            rows.append((f"test/{label}/{label[0]}{patient}-t.png", label, "test", f"{label[0]}{patient}"))
    for path, *_ in rows:
        (tmp_path / "data" / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((next(images) * 255).astype(np.uint8)).save(tmp_path / "data" / path)
    table = pd.DataFrame(rows, columns=["path", "label", "split", "patient_id"]).assign(sha256="")
    table = table.sample(frac=1, random_state=int(rng.integers(100)))  # no meaningful row order
    manifest = tmp_path / "m.csv"
    table[["path", "label", "split", "sha256", "patient_id"]].to_csv(manifest, index=False)
    other = tmp_path / "other.csv"  # another suite evaluates patients N5 and P6 (and trains on N7)
    pd.DataFrame(
        [("x/N5.png", "NORMAL", "test", "", "N5"), ("x/P6.png", "PNEUMONIA", "test", "", "P6"),
         ("x/N7.png", "NORMAL", "train", "", "N7")],
        columns=["path", "label", "split", "sha256", "patient_id"],
    ).to_csv(other, index=False)  # fmt: skip
    return manifest, other


def _cli(tmp_path, manifest, *extra, out="out", steps=2, seed=0):
    config = tmp_path / "tiny.yaml"
    config.write_text(f"hr_patch: 32\nbatch_size: 2\npretrain_steps: {steps}\ncheckpoint_every: 1\n")
    return main(
        ["train-sr", "--model", "realesrgan-compact", "--preset", "finetune-l1", "--config", str(config),
         "--manifest", str(manifest), "--data-root", str(tmp_path / "data"), "--hr-size", "64",
         "--max-images", "10", "--threads", "1", "--seed", str(seed), "--out", str(tmp_path / out), "--quiet",
         *extra]
    )  # fmt: skip


def test_cli_samples_whole_patients_per_class_without_test_patients(tmp_path, compact_file):
    manifest, other = _dataset(tmp_path)
    init = ["--init-weights", str(compact_file), "--exclude-patients-of", str(other)]
    assert _cli(tmp_path, manifest, *init) == 0
    used = pd.read_csv(tmp_path / "out" / "train_images.csv")
    record = json.loads((tmp_path / "out" / "training.json").read_text())
    banned = {"N0", "N11", "N20", "P0", "P11", "P20", "N5", "P6"}
    assert not banned & set(used["patient_id"]) and "N7" not in record["patients_excluded_ids"]
    assert set(record["patients_excluded_ids"]) == banned
    assert record["patients_excluded"] == {"training manifest": 6, str(other): 2}
    assert used["label"].value_counts().to_dict() == {0: 5, 1: 5}
    table = pd.read_csv(manifest)
    per_patient = table[table["split"] == "train"].groupby("patient_id").size()
    used_per_patient = used.groupby("patient_id").size()
    # whole patients, except possibly the last one drawn in each class
    assert (used_per_patient < per_patient[used_per_patient.index]).sum() <= 2
    assert record["train_list_sha256"] and record["init_weights_sha256"] and record["scenario"] == "bicubic"
    assert _cli(tmp_path, manifest, *init, out="other-seed", seed=1) == 0
    assert set(pd.read_csv(tmp_path / "other-seed" / "train_images.csv")["image_id"]) != set(used["image_id"])
    # rerun with more steps: extends the same sample, its commands recorded
    assert _cli(tmp_path, manifest, *init, steps=3) == 0
    assert len(json.loads((tmp_path / "out" / "training.json").read_text())["commands"]) == 2
    assert json.loads((tmp_path / "out" / "progress.json").read_text())["step"] == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--preset", "finetune-gan-vgg"], "perceptual loss"),
        (["--scenario", "bicubc"], "bicubc"),
        (["--init-weights", "missing.pth"], "missing.pth"),
        (["--model", "srgan", "--init-weights", "COMPACT"], "Use --model realesrgan-compact"),
        ([], "init_weights"),
        (["--init-weights", "COMPACT", "--hr-size", "16"], "--hr-size"),
    ],
)
def test_config_errors_stop_in_one_line_before_any_image_is_read(
    tmp_path, capsys, compact_file, extra, message
):
    manifest = tmp_path / "m.csv"  # names files that do not exist: reading any would fail otherwise
    manifest.write_text("path,label,split,sha256,patient_id\ntrain/NORMAL/a.png,NORMAL,train,,a\n")
    extra = [str(compact_file) if e == "COMPACT" else e for e in extra]
    assert _cli(tmp_path, manifest, *extra) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "out" / ".cache").exists()


def test_bad_training_images_are_skipped_when_asked_and_recorded(tmp_path, compact_file):
    manifest, _ = _dataset(tmp_path)
    table = pd.read_csv(manifest)
    table = table[table["split"] == "train"]  # all drawn with --max-images 200
    table.to_csv(manifest, index=False)
    broken = table["path"].iloc[0]
    (tmp_path / "data" / broken).write_bytes(b"not a png")
    init = ["--init-weights", str(compact_file), "--max-images", "200"]
    assert _cli(tmp_path, manifest, *init) == 2
    assert _cli(tmp_path, manifest, *init, "--on-bad-image", "skip") == 0
    record = json.loads((tmp_path / "out" / "training.json").read_text())
    assert [row["image_id"] for row in record["skipped_images"]] == [broken]
    assert broken not in set(pd.read_csv(tmp_path / "out" / "train_images.csv")["image_id"])
