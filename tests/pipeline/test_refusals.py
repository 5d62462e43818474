"""Refusals before any work: one line naming the key or file and the fix, exit status 2."""

import errno
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from benchmark.commands.cli import main
from benchmark.images import write_png
from benchmark.manifest import build_manifest
from benchmark.pipeline.cache import Cache
from benchmark.pipeline.screening import apply_policy, screen
from cxr_kernel.atomic import DiskFull, atomic_path
from tests.support.suite_files import RAW, run_cli


def one_line_error(capsys) -> str:
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1, error
    return error


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_outside_numpys_range_is_refused_before_any_work(tmp_path, capsys, seed):
    assert run_cli(tmp_path, {**RAW, "seed": seed}) == 2
    assert "seed" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_an_unbounded_bootstrap_is_refused_stating_the_memory_it_needs(tmp_path, capsys):
    assert run_cli(tmp_path, {**RAW, "stats": {"n_bootstrap": 1e9}}) == 2
    error = capsys.readouterr().err
    assert "n_bootstrap 1000000000 needs about" in error and "GiB per evaluation image" in error
    assert "at most 100000" in error and not (tmp_path / "runs").exists()


def test_a_param_that_is_not_yaml_is_one_line_naming_it(tmp_path, capsys):
    image = tmp_path / "in.png"
    write_png(image, np.full((16, 16), 0.5, np.float32))
    command = ["degrade", "--scenario", "bicubic-noise", str(image), str(tmp_path / "out.png")]
    assert main([*command, "--param", "sigma=[0.1"]) == 2
    assert "--param 'sigma=[0.1'" in one_line_error(capsys)
    assert (
        main(["degrade", "--scenario", "bicubic", "--seed", "-1", str(image), str(tmp_path / "o.png")]) == 2
    )
    assert "--seed" in one_line_error(capsys)


def test_a_full_disk_is_named_with_the_path_and_free_space(tmp_path, capsys, monkeypatch):
    image = tmp_path / "in.png"
    write_png(image, np.full((16, 16), 0.5, np.float32))

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    out = tmp_path / "out.png"
    assert main(["degrade", "--scenario", "bicubic", str(image), str(out)]) == 2
    error = one_line_error(capsys)
    assert f"No space left on the device holding {out}" in error and "MiB free" in error
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_numpys_short_write_is_reported_as_a_full_disk(tmp_path):
    with pytest.raises(DiskFull, match=r"holding .*entry.npy .*MiB free, 0.0 MiB more needed"):
        with atomic_path(tmp_path / "entry.npy"):
            raise OSError("12544 requested and 9184 written")


def test_other_os_errors_keep_their_traceback(tmp_path, monkeypatch):
    image = tmp_path / "in.png"
    write_png(image, np.full((16, 16), 0.5, np.float32))

    def broken(self, *args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(Image.Image, "save", broken)
    with pytest.raises(OSError, match="Input/output"):
        main(["degrade", "--scenario", "bicubic", str(image), str(tmp_path / "out.png")])


def test_a_decompression_bomb_is_skipped_with_on_bad_image_skip(tmp_path):
    import struct
    import zlib

    root = tmp_path / "data"
    for split in ("train", "test"):
        for label in ("NORMAL", "PNEUMONIA"):
            (root / split / label).mkdir(parents=True)
            pixels = np.random.default_rng(len(split) + len(label)).integers(0, 255, (32, 32), np.uint8)
            Image.fromarray(pixels).save(root / split / label / "a.png")
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    (root / "test" / "NORMAL" / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk)
    frames = [Image.fromarray(np.zeros((32, 32), np.uint8)), Image.fromarray(np.ones((32, 32), np.uint8))]
    # an animated PNG
    frames[0].save(root / "test" / "PNEUMONIA" / "two.png", save_all=True, append_images=frames[1:])
    table, problems = screen(
        build_manifest(root, progress=False), root, min_side=16, cache=Cache(tmp_path / "c"), progress=False
    )
    reasons = dict(zip(problems["image_id"], problems["reason"], strict=True))
    assert reasons == {"test/NORMAL/bomb.png": "unreadable", "test/PNEUMONIA/two.png": "unsupported"}
    kept = apply_policy(table, problems, "skip", root)
    assert len(kept) == 4 and "test/NORMAL/bomb.png" not in set(kept["path"])


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporaries_of_killed_processes_are_removed_and_live_ones_kept(tmp_path):
    from cxr_kernel.atomic import _HOST

    cache = Cache(tmp_path / "cache")
    folder = cache.root / "classifier" / "ab"
    folder.mkdir(parents=True)
    dead = folder / f".abc.tmp-{dead_pid()}@{_HOST}-x1y2z3w4.best.keras"
    live = folder / f".abc.tmp-{os.getpid()}@{_HOST}-q1w2e3r4.keras"
    old_style = folder / ".abc.tmp-k3j4h5g6.npy"
    for path in (dead, live, old_style):
        path.write_bytes(b"x" * 1000)
    os.utime(old_style, (0, 0))  # written long ago by a version without process names
    assert sorted(cache.remove_stale_temporaries()) == sorted([dead, old_style])
    assert live.exists()


def test_hostile_or_mismatched_sr_weights_are_refused_before_the_classifier_trains(tmp_path, capsys):
    """The weights are loaded (header, pickle safety, key set) before any image is read or trained on;
    stale temporaries are cleaned at the same start."""
    from cxr_kernel.atomic import _HOST

    wrong = tmp_path / "wrong.pth"
    torch.save({"not.a.layer": torch.zeros(2)}, wrong)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x80\x04 not a pickle at all")
    stale = tmp_path / "runs" / ".cache" / "classifier" / "ab" / f".k.tmp-{dead_pid()}@{_HOST}-a1b2c3d4.keras"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a model")
    for weights in (wrong, garbage):
        model = {"name": "mine", "model": "esrgan", "weights": str(weights), "scales": [2]}
        raw = {**RAW, "sr_models": [*RAW["sr_models"], model]}
        assert run_cli(tmp_path, raw, "--overwrite", "--run-id", "r") == 2
        error = capsys.readouterr().err
        assert str(weights) in error, error
        cache = tmp_path / "runs" / ".cache"
        assert not list((cache / "classifier").rglob("*.keras"))
        assert not (cache / "image-check").exists() and not (cache / "phantoms").exists()
    assert not stale.exists()


def test_a_classifier_file_with_a_nan_weight_is_refused_before_any_work(tmp_path, capsys):
    """Before: every probability NaN, then an error about a results.parquet that did not exist."""
    import keras

    inputs = keras.Input((94, 94, 1))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, np.full_like(bias, np.nan)])
    path = tmp_path / "nan.keras"
    model.save(path)
    raw = {**RAW, "classifier": {"weights": str(path)}}
    assert run_cli(tmp_path, raw, "--run-id", "r") == 2
    error = one_line_error(capsys)
    assert f"Classifier file {path} holds NaN or Inf weights" in error and "Export it again" in error
    assert not (tmp_path / "runs" / ".cache" / "image-check").exists()


def test_manifest_build_and_run_agree_on_a_symlinked_split(tmp_path, capsys):
    """Before: `manifest build` followed a symlinked train/ that `run` then refused row by row."""
    elsewhere = tmp_path / "elsewhere" / "NORMAL"
    elsewhere.mkdir(parents=True)
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(elsewhere / "a.png")
    root = tmp_path / "data"
    (root / "test" / "NORMAL").mkdir(parents=True)
    Image.fromarray(np.ones((32, 32), np.uint8)).save(root / "test" / "NORMAL" / "b.png")
    (root / "train").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert main(["manifest", "build", str(root), "--out", str(tmp_path / "m.csv"), "--quiet"]) == 2
    error = one_line_error(capsys)
    assert "train/NORMAL/a.png ->" in error and "outside it through symbolic links" in error
    assert not (tmp_path / "m.csv").exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"classifier": {"train": {"epoch": 2}}}, r"classifier.train has unknown keys \['epoch'\]"),
        (
            {
                "sr_models": [
                    {
                        "name": "e",
                        "model": "esrgan",
                        "train": {"preset": "tiny-esrgan", "overrides": {"gan_step": 2}},
                    }
                ]
            },
            r"sr_models\[e\].train: .*unknown \['gan_step'\]",
        ),
        (
            {"sr_models": [{"name": "e", "model": "esrgan", "train": {"preset": "esrgan"}}]},
            r"sr_models\[e\].train: preset 'esrgan' uses a perceptual loss.*vgg_weights",
        ),
    ],
)
def test_training_settings_are_checked_before_any_image_is_read(tmp_path, capsys, change, expected):
    """Before: a misspelt SR override or a missing VGG file surfaced after the classifier trained."""
    import re

    assert run_cli(tmp_path, {**RAW, **change}) == 2
    assert re.search(expected, one_line_error(capsys))
    assert not (tmp_path / "runs" / ".cache" / "image-check").exists()
