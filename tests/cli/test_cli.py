import numpy as np
from PIL import Image

from benchmark.commands.cli import main


def test_list_shows_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for expected in (
        "suites:",
        "demo",
        "degradations:",
        "realesrgan",
        "SR models:",
        "esrgan",
        "psnr",
        "auroc",
    ):
        assert expected in out


def test_user_error_is_one_line_and_exit_status_2(capsys):
    assert main(["run", "--suite", "no-such-suite", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown suite 'no-such-suite'") and "\n" not in err


def test_degrade_writes_the_lr_image(tmp_path, capsys):
    source = tmp_path / "hr.png"
    Image.fromarray(np.full((64, 66), 128, np.uint8)).save(source)
    assert (
        main(
            [
                "degrade",
                "--scenario",
                "bicubic-noise",
                "--scale",
                "4",
                "--param",
                "sigma=0.02",
                str(source),
                str(tmp_path / "lr.png"),
            ]
        )
        == 0
    )
    with Image.open(tmp_path / "lr.png") as lr:
        assert lr.size == (16, 16)


def test_degrade_with_unknown_param_names_the_valid_ones(tmp_path, capsys):
    source = tmp_path / "hr.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(source)
    assert (
        main(
            [
                "degrade",
                "--scenario",
                "bicubic-noise",
                "--param",
                "sgma=1",
                str(source),
                str(tmp_path / "o.png"),
            ]
        )
        == 2
    )
    assert "sigma" in capsys.readouterr().err


def test_manifest_build_then_verify(tmp_path, capsys):
    for split in ("train", "test"):
        for label in ("NORMAL", "PNEUMONIA"):
            folder = tmp_path / "data" / split / label
            folder.mkdir(parents=True)
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / f"{label}-1.jpeg")
    out = tmp_path / "m.csv"
    assert main(["manifest", "build", str(tmp_path / "data"), "--out", str(out), "--quiet"]) == 0
    assert main(["manifest", "verify", str(out), "--data-root", str(tmp_path / "data"), "--quiet"]) == 0
    assert "OK: 4 files" in capsys.readouterr().out


def train_sr(tmp_path, overrides: str, max_images: int) -> int:
    """`train-sr` of the tiny ESRGAN preset on phantoms, with preset overrides from a YAML file."""
    config = tmp_path / "overrides.yaml"
    config.write_text(overrides)
    arguments = ["--model", "esrgan", "--preset", "tiny-esrgan", "--config", str(config), "--hr-size", "64"]
    out = ["--max-images", str(max_images), "--out", str(tmp_path / "esrgan"), "--quiet"]
    return main(["train-sr", *arguments, *out])


def test_train_sr_writes_weights_that_load_as_an_upscaler(tmp_path, capsys):
    from sr_models import load_upscaler

    assert train_sr(tmp_path, "pretrain_steps: 2\ngan_steps: 2\n", max_images=4) == 0
    assert "Weights:" in capsys.readouterr().out
    history = (tmp_path / "esrgan" / "history.csv").read_text().splitlines()
    assert history[0].startswith("step,stage") and len(history) > 1
    upscaler = load_upscaler("esrgan", 4, tmp_path / "esrgan" / "weights.pth", device="cpu")
    assert upscaler.upscale(np.zeros((1, 8, 8), np.float32)).shape == (1, 32, 32)


def test_train_sr_with_perceptual_loss_and_no_vgg_file_says_what_to_do(tmp_path, capsys):
    assert train_sr(tmp_path, "perceptual_weight: 1.0\npretrain_steps: 1\ngan_steps: 1\n", max_images=2) == 2
    assert "vgg19" in capsys.readouterr().err.lower()


def _failing_list(monkeypatch, error):
    def fail(args):
        raise error

    monkeypatch.setattr("benchmark.commands.cli._cmd_list", fail)


def test_an_internal_value_error_keeps_its_traceback_and_is_not_blamed_on_the_user(monkeypatch):
    """Before: cli caught every ValueError, so a bug inside numpy or pandas printed one line, exit 2."""
    import pytest

    _failing_list(monkeypatch, ValueError("operands could not be broadcast together"))
    with pytest.raises(ValueError, match="broadcast"):
        main(["list"])


def test_an_internal_value_error_exits_1_with_a_traceback(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, benchmark.commands.cli as c; c._cmd_list = lambda a: int('x'); "
        "sys.exit(c.main(['list']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ValueError" in done.stderr


def test_a_file_error_naming_a_path_is_one_line_and_exit_2(monkeypatch, capsys):
    _failing_list(monkeypatch, FileNotFoundError(2, "No such file or directory", "my/manifest.csv"))
    assert main(["list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: my/manifest.csv: No such file or directory. Check the path."


def test_a_file_error_without_a_path_is_a_bug(monkeypatch):
    import pytest

    _failing_list(monkeypatch, FileNotFoundError("somewhere inside"))
    with pytest.raises(FileNotFoundError):
        main(["list"])


def test_user_value_errors_from_the_libraries_are_still_user_errors(tmp_path, capsys):
    """A weights file that is not one (sr_models raises UserValueError, still a ValueError)."""
    (tmp_path / "w.pth").write_bytes(b"not torch")
    hr = tmp_path / "hr.png"
    Image.fromarray(np.full((32, 32), 128, np.uint8)).save(hr)
    assert main(["degrade", "--scenario", "nope", "--scale", "4", str(hr), str(tmp_path / "lr.png")]) == 2
    assert "\n" not in capsys.readouterr().err.strip()


def test_a_corrupt_manifest_csv_is_one_line(tmp_path, capsys):
    bad = tmp_path / "m.csv"
    bad.write_bytes(b'path,label\n"unterminated,NORMAL\n')
    assert main(["manifest", "verify", str(bad), "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "m.csv" in err and "\n" not in err
